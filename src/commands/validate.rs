use std::collections::BTreeMap;

use connectors::postgres::copy_text;

use crate::cli::ValidateArgs;
use crate::config::Config;
use crate::glob;
use crate::output::outln;

/// Runs the configured rules on a few sampled rows and prints each transformed column before and
/// after, side by side. Writes nothing. The "before" column shows real data: run it where that is
/// allowed (your terminal, not a shared CI log).
pub async fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config.config)?;
    let url = crate::source::SourceUrl::from_config(&config, "validate rules")?;
    let (snapshot, plan) = crate::plan::snapshot_and_plan(&config, &url).await?;
    let mut shown = 0;
    for table in plan
        .tables
        .iter()
        .filter(|t| !t.skipped && t.transformed().next().is_some())
    {
        let name = table.table.name.to_string();
        if let Some(pattern) = &args.table {
            let pattern = crate::plan::qualify(pattern, &plan.default_schema);
            if !glob::matches(&pattern, &name) {
                continue;
            }
        }
        let columns: Vec<(&str, &str)> = table.column_types().collect();
        let rows = snapshot.sample(&table.table.name, &columns, args.rows).await?;
        let rewriter = copy_text::RowRewriter::new(
            table
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.rule.as_ref().map(|r| r.implementation.clone())))
                .collect(),
        );
        let transformed: BTreeMap<usize, &str> = table
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.rule.as_ref().map(|r| (i, r.transformer.as_str())))
            .collect();
        outln!("{name}")?;
        for (number, line) in rows.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let mut out = Vec::new();
            rewriter
                .rewrite(line, &mut out)
                .map_err(|e| anyhow::anyhow!("table {name}, sampled row {}: {e}", number + 1))?;
            let before: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            let after: Vec<&[u8]> = out[..out.len() - 1].split(|&b| b == b'\t').collect();
            outln!("  row {}", number + 1)?;
            for (&i, rule) in &transformed {
                outln!(
                    "    {:<24} {:<36} -> {:<36} ({rule})",
                    columns[i].0,
                    show(before[i]),
                    show(after[i])
                )?;
            }
        }
        shown += 1;
    }
    if shown == 0 {
        outln!(
            "no transformed table to show{}",
            args.table
                .as_deref()
                .map(|t| format!(" matching `{t}`"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// A COPY field for display: NULL spelled out, text unescaped.
fn show(field: &[u8]) -> String {
    match copy_text::unescape(field) {
        None => "NULL".into(),
        Some(bytes) => String::from_utf8_lossy(&bytes).replace('\n', "\\n"),
    }
}
