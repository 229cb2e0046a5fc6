//! `dump.memory_limit`: a dump or a restore never holds more than this. The number of streams
//! running at once is chosen so that their buffers, a subset's key sets and the process's own
//! needs fit, and a watchdog stops the run with a clear error, rather than let the kernel kill it,
//! should something still grow past the limit (a single row larger than the budget allows).

use std::future::Future;
use std::time::Duration;

use crate::config::Config;
use crate::datastore::Datastore;
use crate::error::ConfigError;
use crate::plan::TablePlan;
use crate::source::Source;
use crate::units::format_bytes;

const MIB: u64 = 1 << 20;
/// What the process needs whatever it streams: the runtime and its threads, connections and their
/// TLS state, the schema and plan, allocator slack. Measured: about 40 MB before the first row.
pub const BASE_BYTES: u64 = 64 * MIB;
/// How often the watchdog reads the resident set size (large allocations wake it at once).
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

/// Runs `work`, failing it before the process's resident memory passes `limit`. A watchdog thread
/// stops it at the first of: a large allocation that would take the resident set past the limit
/// once filled (see [`crate::memory::Watched`]: woken at once), a large row whose copies would
/// ([`check_row`]), or the resident set past the limit (read every 100 ms). Dropping `work`
/// cancels it; the caller's own cleanup (partial dumps) then runs as for any other error.
pub async fn within<T>(limit: u64, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _armed = Armed::new(limit, tx);
    tokio::select! {
        result = work => result,
        Ok(trip) = rx => Err(anyhow::anyhow!(ConfigError::new(trip.message(limit)))),
    }
}

/// Why the watchdog stopped a run, and the tables being read then (see [`describe_readings`]).
#[derive(Debug)]
struct Trip {
    cause: Cause,
    reading: Option<String>,
}

#[derive(Debug)]
enum Cause {
    /// An allocation of `size` bytes, made with `rss` resident, would pass the limit once filled.
    Allocation { size: u64, rss: u64 },
    /// The resident set passed the limit.
    Resident { rss: u64 },
}

impl Trip {
    /// Taken by the watchdog when it trips, while the streams are still registered.
    fn new(cause: Cause) -> Trip {
        let reading = describe_readings(match cause {
            Cause::Allocation { size, .. } => size,
            Cause::Resident { .. } => 0,
        });
        Trip { cause, reading }
    }

    fn message(&self, limit: u64) -> String {
        let limit = format_bytes(limit);
        match (&self.cause, &self.reading) {
            (Cause::Allocation { size, rss }, Some(reading)) => format!(
                "stopped reading {reading}: it needed {} more at once with {} in use, which would take this process \
                 past dump.memory_limit ({limit}). A value that large arrives whole from the server, so a rule on \
                 the column cannot help: raise dump.memory_limit above {} (more if the value is larger), or give \
                 the table `skip` under `tables:`, or leave it out with `only:`",
                format_bytes(*size),
                format_bytes(*rss),
                format_bytes(suggested_limit(*rss, 2 * *size)),
            ),
            (Cause::Resident { rss }, Some(reading)) => format!(
                "stopped reading {reading}: this process reached {}, past dump.memory_limit ({limit}); a row larger \
                 than the buffers allow is the usual cause: raise dump.memory_limit, lower dump.workers or \
                 dump.compression_level, or give the table `skip` under `tables:`",
                format_bytes(*rss)
            ),
            (Cause::Allocation { size, rss }, None) => format!(
                "stopped: an allocation of {} with {} in use would take this process past dump.memory_limit \
                 ({limit}); a row, document or chunk larger than the buffers allow is the usual cause: raise \
                 dump.memory_limit above {}, or lower dump.workers or dump.compression_level",
                format_bytes(*size),
                format_bytes(*rss),
                format_bytes(suggested_limit(*rss, 2 * *size)),
            ),
            (Cause::Resident { rss }, None) => format!(
                "stopped: this process reached {} of memory, past dump.memory_limit ({limit}); a row or document \
                 larger than the buffers allow is the usual cause: raise dump.memory_limit, or lower dump.workers \
                 or dump.compression_level",
                format_bytes(*rss)
            ),
        }
    }
}

/// A limit that would have held `rss` plus `more`, rounded up to 16 MiB with a little room.
fn suggested_limit(rss: u64, more: u64) -> u64 {
    (rss + more + 16 * MIB).div_ceil(16 * MIB) * 16 * MIB
}

/// The armed watchdog of one [`within`]; disarmed when dropped.
struct Armed;

/// Where the watchdog sends its trip.
static SUBSCRIBER: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Trip>>> = std::sync::Mutex::new(None);

impl Armed {
    fn new(limit: u64, tx: tokio::sync::oneshot::Sender<Trip>) -> Armed {
        *SUBSCRIBER.lock().expect("watchdog lock") = Some(tx);
        crate::memory::watch_allocations(limit);
        watchdog().unpark();
        Armed
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        crate::memory::watch_allocations(0);
        SUBSCRIBER.lock().expect("watchdog lock").take();
    }
}

/// The watchdog thread, started once: parked while nothing is armed, else woken by a tripping
/// allocation or every [`WATCH_EVERY`] to read the resident set size. A thread rather than a
/// task, so that an allocation can wake it without entering the runtime.
fn watchdog() -> &'static std::thread::Thread {
    static THREAD: std::sync::OnceLock<std::thread::Thread> = std::sync::OnceLock::new();
    THREAD.get_or_init(|| {
        let thread = std::thread::Builder::new()
            .name("decoy-memory-watchdog".into())
            .spawn(|| loop {
                let limit = crate::memory::watched_limit();
                if limit == 0 {
                    std::thread::park();
                    continue;
                }
                std::thread::park_timeout(WATCH_EVERY);
                let limit = crate::memory::watched_limit();
                if limit == 0 {
                    continue;
                }
                let trip = match crate::memory::tripped_allocation() {
                    Some((size, rss)) => Some(Trip::new(Cause::Allocation { size, rss })),
                    None => resident_bytes()
                        .filter(|&rss| rss > limit)
                        .map(|rss| Trip::new(Cause::Resident { rss })),
                };
                if let Some(trip) = trip {
                    if let Some(tx) = SUBSCRIBER.lock().expect("watchdog lock").take() {
                        tracing::debug!(?trip, "memory watchdog tripped");
                        let _ = tx.send(trip);
                    }
                }
            })
            .expect("the memory watchdog thread starts");
        crate::memory::set_watcher(thread.thread().clone());
        thread.thread().clone()
    })
}

/// The resident set size now (`/proc/self/statm`).
pub fn resident_bytes() -> Option<u64> {
    crate::memory::resident_bytes_raw()
}

/// A table a dump stream is reading, registered while it reads so that the watchdog can name it.
pub struct Reading {
    id: u64,
    info: std::sync::Arc<ReadingInfo>,
}

struct ReadingInfo {
    table: String,
    /// The copied columns in row order, with the most bytes one of their values can take in a
    /// row's text (`None`: no bound).
    columns: Vec<(String, Option<u64>)>,
    /// Rows are rewritten (one more copy of each).
    transformed: bool,
}

static READINGS: std::sync::Mutex<Vec<(u64, std::sync::Arc<ReadingInfo>)>> = std::sync::Mutex::new(Vec::new());

impl Reading {
    /// Registers a stream reading `plan`'s table; `columns` is false for MongoDB, whose
    /// documents are not text rows.
    pub fn start(plan: &TablePlan, columns: bool) -> Reading {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let info = std::sync::Arc::new(ReadingInfo {
            table: plan.table.name.to_string(),
            columns: if columns {
                plan.columns
                    .iter()
                    .map(|c| {
                        (
                            c.name.clone(),
                            plan.table.column(&c.name).and_then(|col| max_text_bytes(&col.kind)),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            },
            transformed: plan.transformed().next().is_some(),
        });
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        READINGS.lock().expect("readings lock").push((id, info.clone()));
        Reading { id, info }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        READINGS.lock().expect("readings lock").retain(|(id, _)| *id != self.id);
    }
}

/// The most bytes a value of `kind` takes in a text row (UTF-8 and escaping included); `None`
/// when unbounded.
fn max_text_bytes(kind: &transformers::ColumnKind) -> Option<u64> {
    use transformers::ColumnKind;
    match kind {
        ColumnKind::Text { max_chars: Some(n) } => Some(u64::from(*n) * 8),
        ColumnKind::Text { max_chars: None } | ColumnKind::Bytes | ColumnKind::Json | ColumnKind::Other(_) => None,
        _ => Some(64),
    }
}

/// The tables being read, with the columns that can hold a value of `size` bytes: `table
/// public.docs (column body)`. `None` when no stream is reading.
fn describe_readings(size: u64) -> Option<String> {
    let readings = READINGS.lock().expect("readings lock");
    let described: Vec<String> = readings
        .iter()
        .map(|(_, info)| {
            let wide: Vec<&str> = info
                .columns
                .iter()
                .filter(|(_, max)| max.is_none_or(|max| max >= size))
                .map(|(name, _)| name.as_str())
                .collect();
            match wide.as_slice() {
                [] => format!("table {}", info.table),
                [one] => format!(
                    "table {} (column {one}, the only one that can hold such a value)",
                    info.table
                ),
                many => format!("table {} (one of its columns {})", info.table, many.join(", ")),
            }
        })
        .collect();
    (!described.is_empty()).then(|| described.join(" or "))
}

/// Rows (or pieces of rows) of at least this size are checked before decoy copies them.
const LARGE_ROW: usize = crate::memory::LARGE_ALLOCATION;

/// Checks a piece of rows that just arrived from the server against the armed limit before decoy
/// copies it: into its batch, and into the rewritten rows when a column is transformed (the chunk
/// writer compresses large rows in 1 MiB frames, without a copy). Fails when those copies would
/// take the resident set past the limit, naming the table, the column of the largest value and
/// what to do.
pub fn check_row(piece: &[u8], reading: &Reading) -> Result<(), ConfigError> {
    let limit = crate::memory::watched_limit();
    if limit == 0 || piece.len() < LARGE_ROW {
        return Ok(());
    }
    let copies = if reading.info.transformed { 2 } else { 1 };
    let need = piece.len() as u64 * copies;
    let Some(rss) = resident_bytes() else {
        return Ok(());
    };
    if rss + need <= limit {
        return Ok(());
    }
    let info = &reading.info;
    let (index, largest) = largest_field(piece);
    let value = match info.columns.get(index) {
        Some((column, _)) => format!("a value of {} in column {column}", format_bytes(largest as u64)),
        None => format!("{} of rows at once", format_bytes(piece.len() as u64)),
    };
    Err(ConfigError::new(format!(
        "table {}: a row holds {value}; dumping it needs about {} more with {} in use, which would pass \
         dump.memory_limit ({}). The server sends each row whole, so a rule on the column cannot help: raise \
         dump.memory_limit to at least {}, or skip the table (`tables: {{ {}: skip }}`) or leave it out with \
         `only:`",
        info.table,
        format_bytes(need),
        format_bytes(rss),
        format_bytes(limit),
        format_bytes(suggested_limit(rss, need)),
        info.table,
    )))
}

/// The position and length of the longest tab-separated field of any row in `rows`.
fn largest_field(rows: &[u8]) -> (usize, usize) {
    let mut best = (0, 0);
    for row in rows.split(|&b| b == b'\n') {
        for (index, field) in row.split(|&b| b == b'\t').enumerate() {
            if field.len() > best.1 {
                best = (index, field.len());
            }
        }
    }
    best
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

    /// The watchdog and its limit are process-wide: tests that arm it take turns.
    static ARMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test]
    async fn the_watchdog_stops_work_that_passes_the_limit() {
        let _turn = ARMING.lock().await;
        let work = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            anyhow::Ok(())
        };
        let error = within(MIB, work).await.unwrap_err().to_string();
        assert!(error.contains("past dump.memory_limit (1.0 MiB)"), "{error}");
        let done = within(u64::MAX, async { anyhow::Ok(7) }).await.unwrap();
        assert_eq!(done, 7);
    }

    #[tokio::test]
    async fn a_large_allocation_stops_the_run_at_once_and_names_the_table_being_read() {
        let _turn = ARMING.lock().await;
        let rss = resident_bytes().unwrap();
        let reading = register("public.docs", &[("id", Some(64)), ("title", Some(800)), ("body", None)]);
        let started = std::time::Instant::now();
        let work = async {
            // Twice the room left under the limit, reserved at once (as a driver reserves a row).
            let block: Vec<u8> = Vec::with_capacity(2 * (64 * MIB) as usize);
            tokio::time::sleep(Duration::from_secs(30)).await;
            anyhow::Ok(block.capacity())
        };
        let error = within(rss + 64 * MIB, work).await.unwrap_err().to_string();
        // Woken by the allocation, not by the next reading of the resident set.
        assert!(started.elapsed() < WATCH_EVERY, "{:?}", started.elapsed());
        assert!(
            error.contains("stopped reading table public.docs (column body, the only one")
                && error.contains("past dump.memory_limit")
                && error.contains("raise dump.memory_limit above"),
            "{error}"
        );
        drop(reading);
        assert!(describe_readings(0).is_none());
    }

    #[tokio::test]
    async fn a_large_row_that_would_not_fit_names_its_column() {
        let _turn = ARMING.lock().await;
        let reading = register("shop.items", &[("id", Some(64)), ("note", None), ("photo", None)]);
        let mut row = b"1\tsmall\t".to_vec();
        row.resize(row.len() + LARGE_ROW + 10, b'x');
        row.push(b'\n');
        let (tx, _rx) = tokio::sync::oneshot::channel();
        let armed = Armed::new(resident_bytes().unwrap() + (LARGE_ROW / 2) as u64, tx);
        let error = check_row(&row, &reading).unwrap_err().to_string();
        assert!(
            error.contains("table shop.items: a row holds a value of 4.0 MiB in column photo")
                && error.contains("tables: { shop.items: skip }"),
            "{error}"
        );
        drop(armed);
        assert!(check_row(&row, &reading).is_ok(), "nothing is checked without a limit");
    }

    fn register(table: &str, columns: &[(&str, Option<u64>)]) -> Reading {
        let info = std::sync::Arc::new(ReadingInfo {
            table: table.into(),
            columns: columns.iter().map(|(name, max)| (name.to_string(), *max)).collect(),
            transformed: false,
        });
        READINGS.lock().unwrap().push((u64::MAX - 1, info.clone()));
        Reading { id: u64::MAX - 1, info }
    }
}
