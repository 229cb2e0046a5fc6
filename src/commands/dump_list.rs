use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::ListArgs;
use crate::config::Config;
use crate::dump::{self, Status};
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
    /// The name the dump was written under, when its folder was copied or renamed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    written_as: Option<String>,
    /// An incomplete dump whose writer still renews its lease is being written now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    being_written: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

pub fn run(args: ListArgs) -> anyhow::Result<()> {
    let config = Config::load_for_dumps(&args.config.config)?;
    let store = crate::datastore::open(&config.datastore)?;
    let now = Utc::now();
    let mut rows = Vec::new();
    // Newest first, by creation time (see dump::list).
    for info in dump::list(store.as_ref())? {
        let files = store.list_files(&info.name)?;
        if let Some(problem) = &info.problem {
            // One unreadable manifest must not hide every other dump: it is listed as damaged.
            tracing::warn!(dump = %info.name, "{problem}");
        }
        let manifest = info.manifest.as_ref();
        rows.push(Row {
            created_at: info
                .created_at
                .or_else(|| files.iter().filter_map(|f| f.modified).max().map(DateTime::<Utc>::from)),
            status: info.status.label(),
            source: manifest.map(|m| {
                // "15.20 (Debian ...)" → "15.20": the column stays narrow, the manifest has the rest.
                let version = m.source.server_version.split_whitespace().next().unwrap_or_default();
                format!(
                    "{} {version} {}",
                    m.source.engine,
                    m.source.database.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_string()
            }),
            tables: manifest.map(|m| m.totals.tables),
            rows: manifest.map(|m| m.totals.rows),
            bytes: files.iter().map(|f| f.bytes).sum(),
            written_as: info.written_as().map(str::to_string),
            being_written: info.status == Status::Incomplete && info.live_lease(store.as_ref(), now).is_some(),
            problem: info.problem.clone(),
            name: info.name,
        });
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if rows.is_empty() {
        outln!("no dumps in {}", store.describe())?;
        return Ok(());
    }
    outln!(
        "{:<28} {:<20} {:<28} {:>6} {:>12} {:>10}  STATUS",
        "NAME",
        "CREATED",
        "SOURCE",
        "TABLES",
        "ROWS",
        "SIZE"
    )?;
    let dash = || "-".to_string();
    for row in rows {
        let mut status = row.status.to_string();
        if row.being_written {
            status.push_str(" (being written)");
        }
        if let Some(original) = &row.written_as {
            status.push_str(&format!(" (written as {original})"));
        }
        outln!(
            "{:<28} {:<20} {:<28} {:>6} {:>12} {:>10}  {status}",
            row.name,
            row.created_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(dash),
            row.source.unwrap_or_else(dash),
            row.tables.map(|t| t.to_string()).unwrap_or_else(dash),
            row.rows.map(|r| r.to_string()).unwrap_or_else(dash),
            format_bytes(row.bytes),
        )?;
    }
    Ok(())
}
