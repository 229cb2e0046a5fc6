use crate::cli::CreateArgs;
use crate::config::Config;
use crate::units::format_bytes;

pub async fn run(args: CreateArgs) -> anyhow::Result<()> {
    let manifest = match &args.from_file {
        Some(file) => {
            let config = Config::load_for_file(&args.config.config)?;
            crate::budget::within(
                config.dump.memory_limit,
                crate::create_from_file::run(&config, args.name, file),
            )
            .await?
        }
        None => {
            let config = Config::load(&args.config.config)?;
            crate::create::run(&config, args.name).await?
        }
    };
    let totals = &manifest.totals;
    let seconds = (manifest.duration_ms as f64 / 1000.0).max(0.001);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "name": manifest.name,
                "status": "complete",
                "tables": totals.tables,
                "rows": totals.rows,
                "chunks": totals.chunks,
                "raw_bytes": totals.raw_bytes,
                "bytes": totals.stored_bytes,
                "duration_ms": manifest.duration_ms,
                "peak_rss_bytes": crate::memory::peak_rss_bytes(),
            })
        );
    } else {
        println!(
            "dump {} complete: {} tables, {} rows, {} stored ({} uncompressed) in {:.1}s ({:.0} rows/s, {}/s, peak memory {})",
            manifest.name,
            totals.tables,
            totals.rows,
            format_bytes(totals.stored_bytes),
            format_bytes(totals.raw_bytes),
            seconds,
            totals.rows as f64 / seconds,
            format_bytes((totals.raw_bytes as f64 / seconds) as u64),
            format_bytes(crate::memory::peak_rss_bytes()),
        );
    }
    Ok(())
}
