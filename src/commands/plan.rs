use connectors::postgres::{self, PgUrl, Snapshot};

use crate::cli::PlanArgs;
use crate::config::Config;

/// Prints what `dump create` would do, after the same checks, without writing anything.
pub async fn run(args: PlanArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config.config)?;
    let source = config
        .source
        .as_ref()
        .ok_or_else(|| config.error_at(&["source"], "`source.url` is needed to plan a dump".into()))?;
    let url = PgUrl::parse(&source.url).map_err(|e| config.error_at(&["source", "url"], e.to_string()))?;
    let snapshot = Snapshot::export(&url).await?;
    let schema = postgres::introspect(snapshot.client()).await?;
    let plan = crate::plan::build(&config, &schema)?;
    println!("source {url} (PostgreSQL {})", snapshot.server_version());
    for table in &plan.tables {
        let action = if table.skipped {
            "skip (definition only)"
        } else {
            "dump"
        };
        println!("{}  ~{} rows  {action}", table.table.name, table.table.estimated_rows);
        if table.skipped {
            continue;
        }
        for column in &table.columns {
            let rule = match &column.rule {
                Some(rule) => match &rule.follows {
                    Some(origin) => format!("{} (follows {origin})", rule.transformer),
                    None => rule.transformer.clone(),
                },
                None if column.keep => "keep".into(),
                None => "keep (no rule)".into(),
            };
            println!("    {:<32} {rule}", column.name);
        }
    }
    for name in &plan.excluded {
        println!("{name}  excluded (outside `only`)");
    }
    Ok(())
}
