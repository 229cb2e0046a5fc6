//! `dump.memory_limit`: a dump or a restore never holds more than this. The number of streams
//! running at once is chosen so that their buffers, a subset's key sets and the process's own
//! needs fit, and a watchdog stops the run with a clear error, rather than let the kernel kill it,
//! should something still grow past the limit (a single row larger than the budget allows).

use std::future::Future;
use std::time::Duration;

use crate::config::Config;
use crate::datastore::Datastore;
use crate::error::ConfigError;
use crate::source::Source;
use crate::units::format_bytes;

const MIB: u64 = 1 << 20;
/// What the process needs whatever it streams: the runtime and its threads, connections and their
/// TLS state, the schema and plan, allocator slack. Measured: about 40 MB before the first row.
pub const BASE_BYTES: u64 = 64 * MIB;
/// How often the watchdog reads the resident set size.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Memory one dump stream holds besides its datastore writer: the batches in flight between the
/// reader and the chunk writer, the batch being filled, the joined, carried and rewritten rows
/// (see `create::BATCH_CAPACITY`), the chunk writer's pending input and frame (`FRAME_BYTES`
/// each), plus the zstd compressor at `level`. MongoDB cursors add the driver's reply batches (up
/// to 16 MiB each) and their decoded documents.
fn dump_stream_bytes(level: i32, mongo: bool) -> u64 {
    let reader = (crate::create::BATCHES_IN_FLIGHT as u64 + 4) * crate::create::BATCH_CAPACITY as u64;
    let writer = 2 * crate::dump::FRAME_BYTES as u64;
    reader + writer + zstd_compressor_bytes(level) + if mongo { 32 * MIB } else { 0 }
}

/// `ZSTD_estimateCStreamSize(level)` of zstd 1.5, rounded up: the compressor's window and tables.
fn zstd_compressor_bytes(level: i32) -> u64 {
    let mib = match level {
        ..=2 => 2,
        3 => 4,
        4..=6 => 6,
        7..=9 => 17,
        10..=12 => 53,
        13..=18 => 69,
        19 => 90,
        20 => 194,
        _ => 778,
    };
    mib * MIB
}

/// Memory one restore stream holds besides its datastore reader: the decompressor's window (8 MiB
/// up to level 19, 128 MiB beyond) and the pieces queued for the database connection.
fn restore_stream_bytes(level: i32) -> u64 {
    let window = if level > 19 { 128 * MIB } else { 8 * MIB };
    window + 8 * MIB
}

/// Passphrase encryption runs scrypt (256 MiB) before any stream starts: a limit that cannot hold
/// it is refused up front rather than stopped by the watchdog.
pub fn check_encryption(config: &Config) -> Result<(), ConfigError> {
    let passphrase = config.encryption.as_ref().is_some_and(|e| e.passphrase.is_some());
    let needed = BASE_BYTES + crate::crypto::SCRYPT_BYTES;
    if passphrase && config.dump.memory_limit < needed {
        return Err(config.error_at(
            &["dump", "memory_limit"],
            format!(
                "{} is too small for passphrase encryption, whose scrypt step needs {}; set it to at least {} or \
                 encrypt to `recipients` instead",
                format_bytes(config.dump.memory_limit),
                format_bytes(crate::crypto::SCRYPT_BYTES),
                format_bytes(needed)
            ),
        ));
    }
    Ok(())
}

/// Streams a dump runs at once: `dump.workers`, fewer when `dump.memory_limit` cannot hold them
/// (with a warning), and never more connections than a MySQL snapshot opened.
pub fn dump_streams(config: &Config, store: &dyn Datastore, source: &Source) -> Result<usize, ConfigError> {
    let settings = &config.dump;
    let per_stream =
        dump_stream_bytes(settings.compression_level, matches!(source, Source::Mongo(_))) + store.writer_memory();
    let subset = config.subset.as_ref().map_or(0, |s| s.memory_budget);
    let streams = fit(config, "dump", settings.workers, per_stream, subset)?;
    Ok(match source {
        Source::Mysql(s) => streams.min(s.workers()),
        _ => streams,
    })
}

/// Connections a restore loads with at once: `workers` (`--workers` or `dump.workers`), fewer when
/// `dump.memory_limit` cannot hold them.
pub fn restore_streams(
    config: &Config,
    store: &dyn Datastore,
    level: i32,
    workers: usize,
) -> Result<usize, ConfigError> {
    let per_stream = restore_stream_bytes(level) + store.reader_memory();
    fit(config, "restore", workers, per_stream, 0)
}

/// `workers` streams of `per_stream` bytes beside `reserved` (a subset's key sets) and the base:
/// as many as fit under the limit, at least one, or a config error that says what the limit must
/// be raised to.
fn fit(config: &Config, what: &str, workers: usize, per_stream: u64, reserved: u64) -> Result<usize, ConfigError> {
    let limit = config.dump.memory_limit;
    let fixed = BASE_BYTES + reserved;
    let fits = limit.saturating_sub(fixed) / per_stream;
    if fits == 0 {
        let mut message = format!(
            "{} is too small for a {what}: one stream needs {} on top of {} for the process",
            format_bytes(limit),
            format_bytes(per_stream),
            format_bytes(BASE_BYTES)
        );
        if reserved > 0 {
            message.push_str(&format!(
                " and {} for the subset's keys (subset.memory_budget)",
                format_bytes(reserved)
            ));
        }
        message.push_str(&format!("; set it to at least {}", format_bytes(fixed + per_stream)));
        return Err(config.error_at(&["dump", "memory_limit"], message));
    }
    let streams = workers.min(fits as usize).max(1);
    if streams < workers {
        tracing::warn!(
            workers,
            streams,
            memory_limit = %format_bytes(limit),
            per_stream = %format_bytes(per_stream),
            "dump.memory_limit holds {streams} streams at once, not the {workers} asked for (dump.workers or --workers); \
             raise dump.memory_limit to run them all"
        );
    }
    Ok(streams)
}

/// Runs `work`, failing it if the process's resident memory passes `limit`. Dropping `work`
/// cancels it; the caller's own cleanup (partial dumps) then runs as for any other error.
pub async fn within<T>(limit: u64, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::select! {
        result = work => result,
        rss = passes(limit) => Err(anyhow::anyhow!(ConfigError::new(format!(
            "stopped: this process reached {} of memory, past dump.memory_limit ({}); a row or document \
             larger than the buffers allow is the usual cause: raise dump.memory_limit, or lower \
             dump.workers or dump.compression_level",
            format_bytes(rss),
            format_bytes(limit)
        )))),
    }
}

/// Resolves with the resident set size once it passes `limit`; pending forever when it cannot be
/// read (not Linux).
async fn passes(limit: u64) -> u64 {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        match resident_bytes() {
            Some(rss) if rss > limit => return rss,
            Some(_) => {}
            None => std::future::pending::<()>().await,
        }
    }
}

/// The resident set size now (`/proc/self/statm`, in pages).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressor_memory_grows_with_level() {
        let levels: Vec<u64> = (1..=22).map(zstd_compressor_bytes).collect();
        assert!(levels.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(zstd_compressor_bytes(1), 2 * MIB);
    }

    #[test]
    fn resident_bytes_reads_this_process() {
        let rss = resident_bytes().expect("Linux has /proc/self/statm");
        assert!(rss > MIB && rss < 64 << 30, "{rss}");
    }

    #[tokio::test]
    async fn the_watchdog_stops_work_that_passes_the_limit() {
        let work = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            anyhow::Ok(())
        };
        let error = within(MIB, work).await.unwrap_err().to_string();
        assert!(error.contains("past dump.memory_limit (1.0 MiB)"), "{error}");
        let done = within(u64::MAX, async { anyhow::Ok(7) }).await.unwrap();
        assert_eq!(done, 7);
    }
}
