use crate::cli::CreateArgs;
use crate::config::Config;
use crate::output::outln;
use crate::units::format_bytes;

pub async fn run(args: CreateArgs) -> anyhow::Result<()> {
    let config = match &args.from_file {
        Some(_) => Config::load_for_file(&args.config.config)?,
        None => Config::load(&args.config.config)?,
    };
    // Both kinds of dump run under the memory watchdog (see crate::budget).
    let manifest = crate::budget::within(config.dump.memory_limit, async {
        match &args.from_file {
            Some(file) => crate::create_from_file::run(&config, args.name.clone(), file).await,
            None => crate::create::run(&config, args.name.clone()).await,
        }
    })
    .await?;
    let totals = &manifest.totals;
    let seconds = (manifest.duration_ms as f64 / 1000.0).max(0.001);
    if args.json {
        outln!(
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
        )?;
    } else {
        outln!(
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
        )?;
    }
    Ok(())
}
