use connectors::postgres::copy_text;
use transformers::ColumnKind;

use crate::cli::PlanArgs;
use crate::config::Config;
use crate::output::outln;
use crate::plan::TablePlan;
use crate::source::Source;

/// Rows sampled per table to spot personal data in kept columns.
const PII_SAMPLE_ROWS: usize = 200;

/// Prints what `dump create` would do, after the same checks, without writing anything, and warns
/// about kept columns that look like personal data.
pub async fn run(args: PlanArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config.config)?;
    let url = crate::source::SourceUrl::from_config(&config, "plan a dump")?;
    let (snapshot, plan) = crate::plan::snapshot_and_plan(&config, &url).await?;
    let engine = match snapshot.engine() {
        "mysql" => "MySQL/MariaDB",
        "mongodb" => "MongoDB",
        _ => "PostgreSQL",
    };
    outln!("source {url} ({engine} {})", snapshot.server_version())?;
    let subset = crate::subset::Subset::choose(&config, &plan, &snapshot).await?;
    if let Some(subset) = &subset {
        outln!("{}", subset.settings())?;
    }
    let mut flagged = Vec::new();
    for (index, table) in plan.tables.iter().enumerate() {
        let action = if table.skipped {
            "skip (definition only)"
        } else {
            "dump"
        };
        match &subset {
            Some(subset) => outln!(
                "{}  {action}  {}",
                table.table.name,
                subset.describe(index, table.table.estimated_rows)
            )?,
            None => outln!("{}  ~{} rows  {action}", table.table.name, table.table.estimated_rows)?,
        }
        if table.skipped {
            continue;
        }
        let warnings = pii_warnings(&snapshot, table).await?;
        for column in &table.columns {
            let rule = match &column.rule {
                Some(rule) => match &rule.follows {
                    Some(origin) => format!("{} (follows {origin})", rule.transformer),
                    None => rule.transformer.clone(),
                },
                None if column.keep => "keep".into(),
                None => "keep (no rule)".into(),
            };
            match warnings.iter().find(|(name, _)| *name == column.name) {
                Some((_, why)) => {
                    outln!("    {:<32} {rule}  <- looks like personal data: {why}", column.name)?;
                    flagged.push(format!("{}.{}", table.table.name, column.name));
                }
                None => outln!("    {:<32} {rule}", column.name)?,
            }
        }
    }
    for name in &plan.excluded {
        outln!("{name}  excluded (outside `only`)")?;
    }
    if !flagged.is_empty() {
        outln!(
            "\n{} kept column(s) look like personal data: {}\nGive each a transformer, or mark it `keep` once you \
             are sure it is safe (strict: true then checks every column).",
            flagged.len(),
            flagged.join(", ")
        )?;
    }
    Ok(())
}

/// Kept text-like columns that look like personal data, by name or by a sample of their values.
/// Columns explicitly marked `keep` are trusted.
async fn pii_warnings(snapshot: &Source, table: &TablePlan) -> anyhow::Result<Vec<(String, String)>> {
    let candidates: Vec<(&str, &str)> = table
        .column_types()
        .filter(|(name, _)| {
            table
                .columns
                .iter()
                .any(|c| c.name == *name && c.rule.is_none() && !c.keep)
        })
        .filter(|(name, _)| {
            table.table.column(name).is_some_and(|col| {
                matches!(
                    col.kind,
                    ColumnKind::Text { .. } | ColumnKind::Other(_) | ColumnKind::Json
                ) || crate::pii::assess(name, &[]).is_some()
            })
        })
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let rows = snapshot.sample(&table.table.name, &candidates, PII_SAMPLE_ROWS).await?;
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); candidates.len()];
    for line in rows.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        for (i, field) in line.split(|&b| b == b'\t').enumerate().take(candidates.len()) {
            if let Some(value) = copy_text::unescape(field) {
                samples[i].push(String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
    Ok(candidates
        .iter()
        .zip(&samples)
        .filter_map(|((name, _), values)| crate::pii::assess(name, values).map(|why| (name.to_string(), why)))
        .collect())
}
