use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::ListArgs;
use crate::config::Config;
use crate::dump::Manifest;
use crate::output::outln;
use crate::units::format_bytes;

#[derive(Serialize)]
struct Row {
    name: String,
    created_at: Option<DateTime<Utc>>,
    status: &'static str,
    source: Option<String>,
    tables: Option<usize>,
    rows: Option<u64>,
    bytes: u64,
}

pub fn run(args: ListArgs) -> anyhow::Result<()> {
    let config = Config::load_for_dumps(&args.config.config)?;
    let store = crate::datastore::open(&config.datastore)?;
    let mut rows = Vec::new();
    for entry in store.list_dumps()? {
        let usage = store.dump_usage(&entry.name)?;
        // One unreadable manifest must not hide every other dump: it is listed as damaged.
        let mut damaged = false;
        let manifest = if entry.complete {
            Manifest::load(store.as_ref(), &entry.name)
                .inspect_err(|e| {
                    tracing::warn!(dump = %entry.name, "{e:#}");
                    damaged = true;
                })
                .ok()
        } else {
            None
        };
        rows.push(Row {
            created_at: manifest
                .as_ref()
                .map(|m| m.created_at)
                .or(usage.modified.map(DateTime::<Utc>::from)),
            status: match (entry.complete, damaged) {
                (_, true) => "damaged",
                (true, false) => "complete",
                (false, false) => "incomplete",
            },
            source: manifest.as_ref().map(|m| {
                // "15.20 (Debian ...)" → "15.20": the column stays narrow, the manifest has the rest.
                let version = m.source.server_version.split_whitespace().next().unwrap_or_default();
                format!("postgresql {version} {}", m.source.database.as_deref().unwrap_or(""))
                    .trim_end()
                    .to_string()
            }),
            tables: manifest.as_ref().map(|m| m.totals.tables),
            rows: manifest.as_ref().map(|m| m.totals.rows),
            bytes: usage.stored_bytes,
            name: entry.name,
        });
    }
    // Names sort by creation time; newest first.
    rows.sort_by(|a, b| b.name.cmp(&a.name));
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if rows.is_empty() {
        outln!("no dumps in {}", store.describe())?;
        return Ok(());
    }
    outln!(
        "{:<24} {:<20} {:<28} {:>6} {:>12} {:>10}  STATUS",
        "NAME",
        "CREATED",
        "SOURCE",
        "TABLES",
        "ROWS",
        "SIZE"
    )?;
    let dash = || "-".to_string();
    for row in rows {
        outln!(
            "{:<24} {:<20} {:<28} {:>6} {:>12} {:>10}  {}",
            row.name,
            row.created_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(dash),
            row.source.unwrap_or_else(dash),
            row.tables.map(|t| t.to_string()).unwrap_or_else(dash),
            row.rows.map(|r| r.to_string()).unwrap_or_else(dash),
            format_bytes(row.bytes),
            row.status
        )?;
    }
    Ok(())
}
