//! `decoy dump create`: one snapshot, tables streamed in parallel through the transformers into
//! chunks, the schema beside them, and the manifest written last as the commit point.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use connectors::mysql;
use connectors::postgres::copy_text::{Dialect, RowRewriter};
use connectors::postgres::{self, SchemaFilter, SchemaScripts};
use connectors::{ConnectorError, ReadRange};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::crypto::Sealer;
use crate::datastore::Datastore;
use crate::dump::{
    self, ChunkManifest, ChunkWriter, ColumnManifest, DumpWriter, FileManifest, Manifest, SchemaManifest,
    SourceManifest, TableManifest, Totals, TransformedColumn,
};
use crate::plan::{self, Plan, TablePlan};
use crate::progress::Progress;
use crate::source::{Source, SourceUrl, SourceWorker};
use crate::subset::{RowFilter, Subset};

/// Bytes read from the server are handed to the writer thread in batches of about this size: large
/// enough to amortise the hand-over, small enough to keep memory flat (a few batches per table).
pub(crate) const BATCH_BYTES: usize = 1 << 20;
/// A batch's buffer: room for the row that takes it past [`BATCH_BYTES`] without reallocating.
pub(crate) const BATCH_CAPACITY: usize = BATCH_BYTES + BATCH_BYTES / 4;
/// Batches in flight per table between the reader and the writer thread.
pub(crate) const BATCHES_IN_FLIGHT: usize = 4;
/// Kept keys per query when the server filters a subset table: about 2 MB of SQL text.
pub(crate) const KEYS_PER_QUERY: usize = 1 << 18;

pub async fn run(config: &Config, name: Option<String>) -> anyhow::Result<Manifest> {
    crate::budget::check_encryption(config)?;
    let started = Instant::now();
    let created_at = Utc::now();
    let url = SourceUrl::from_config(config, "create a dump")?;

    let store: Arc<dyn Datastore> = Arc::from(crate::datastore::open(&config.datastore)?);
    let name = name.unwrap_or_else(|| dump::new_dump_name(created_at));
    // Fail fast on a taken name, before the snapshot; the claim itself comes once the plan holds.
    dump::ensure_free(store.as_ref(), &name)?;

    let (source, plan) = plan::snapshot_and_plan(config, &url).await?;
    let subset = Subset::choose(config, &plan, &source).await?;
    tracing::info!(
        dump = %name,
        snapshot = %source.describe(),
        tables = plan.tables.len(),
        excluded = plan.excluded.len(),
        "snapshot exported, plan ready"
    );

    let sealer = Sealer::from_config(config.encryption.as_ref())?.map(Arc::new);

    // From here on, a failure or a signal removes what was written: no half dump is left to list.
    let writer = DumpWriter::claim(store.clone(), Some(name.clone()), created_at, config.dump.lease)?;
    if let Some(sealer) = &sealer {
        sealer
            .store_key(store.as_ref(), &name)
            .with_context(|| format!("writing the key of dump {name} failed"))?;
    }
    let manifest = write_dump(
        config,
        &source,
        &url,
        &plan,
        subset.as_ref(),
        sealer.clone(),
        store.clone(),
        &name,
        created_at,
        started,
    )
    .await?;
    writer.commit(&manifest, sealer.as_deref())?;
    Ok(manifest)
}

#[allow(clippy::too_many_arguments)]
async fn write_dump(
    config: &Config,
    source: &Source,
    url: &SourceUrl,
    plan: &Plan,
    subset: Option<&Arc<Subset>>,
    sealer: Option<Arc<Sealer>>,
    store: Arc<dyn Datastore>,
    name: &str,
    created_at: chrono::DateTime<Utc>,
    started: Instant,
) -> anyhow::Result<Manifest> {
    let schema_scripts = schema_scripts(source, url, plan);
    let sequences = match source {
        Source::Postgres(snapshot) => {
            let mut schemas: Vec<String> = plan.tables.iter().map(|t| t.table.name.schema.clone()).collect();
            schemas.sort();
            schemas.dedup();
            snapshot.sequences(&schemas).await?
        }
        // AUTO_INCREMENT counters travel in the CREATE TABLE statements; MongoDB has none.
        Source::Mysql(_) | Source::Mongo(_) => Vec::new(),
    };

    let progress = Progress::new("dumping", plan.tables.iter().filter(|t| !t.skipped).count() as u64);
    let chunks = ChunkSettings {
        size: config.dump.chunk_size,
        level: config.dump.compression_level,
        sealer: sealer.clone(),
    };
    let streams = crate::budget::dump_streams(config, store.as_ref(), source)?;
    let tables = async {
        let jobs = plan_jobs(config, source, plan, subset, streams).await?;
        run_jobs(source, &store, name, plan, jobs, &chunks, streams, &progress).await
    };
    let (scripts, mut dumped) = tokio::try_join!(schema_scripts, tables)?;
    // MongoDB's schema files are JSON: collection options, indexes, and what --clean drops.
    let (pre_data, post_data, clean) = match source {
        Source::Mongo(_) => ("schema/collections.json", "schema/indexes.json", "schema/clean.json"),
        _ => ("schema/pre-data.sql", "schema/post-data.sql", "schema/clean.sql"),
    };
    progress.finish();
    dumped.sort_by_key(|(index, _, _)| *index);
    let subset = subset.map(|s| {
        let counts: Vec<(u64, u64)> = dumped.iter().map(|(_, t, read)| (t.rows, *read)).collect();
        s.manifest(&counts)
    });
    let mut tables: Vec<TableManifest> = dumped.into_iter().map(|(_, t, _)| t).collect();
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));

    let schema = SchemaManifest {
        pre_data: write_script(store.as_ref(), sealer.as_deref(), name, pre_data, &scripts.pre_data)?,
        post_data: write_script(store.as_ref(), sealer.as_deref(), name, post_data, &scripts.post_data)?,
        clean: write_script(store.as_ref(), sealer.as_deref(), name, clean, &scripts.clean)?,
        sequences,
    };
    let totals = Totals {
        tables: tables.len(),
        rows: tables.iter().map(|t| t.rows).sum(),
        chunks: tables.iter().map(|t| t.chunks.len()).sum(),
        raw_bytes: tables.iter().map(|t| t.raw_bytes).sum(),
        stored_bytes: tables.iter().map(|t| t.stored_bytes).sum::<u64>()
            + schema.pre_data.bytes
            + schema.post_data.bytes
            + schema.clean.bytes,
    };
    let manifest = Manifest {
        format_version: dump::FORMAT_VERSION,
        tool: format!("decoy {}", env!("CARGO_PKG_VERSION")),
        name: name.to_string(),
        created_at,
        finished_at: Utc::now(),
        duration_ms: started.elapsed().as_millis() as u64,
        source: SourceManifest {
            engine: source.engine().into(),
            server_version: source.server_version().to_string(),
            database: source.database(),
        },
        schema,
        tables,
        encryption: sealer.as_ref().map(|s| s.manifest().clone()),
        totals,
        subset,
        written_as: None,
        opener: None,
    };
    Ok(manifest)
}

/// The schema scripts: pg_dump's sections inside the snapshot, or MySQL's CREATE statements with
/// foreign keys split out so they are added after the data.
async fn schema_scripts(source: &Source, url: &SourceUrl, plan: &Plan) -> anyhow::Result<SchemaScripts> {
    match (source, url) {
        (Source::Postgres(snapshot), SourceUrl::Postgres(url)) => {
            let filter = SchemaFilter {
                exclude_tables: plan.excluded.clone(),
            };
            Ok(postgres::dump_schema(url, snapshot.id(), &filter).await?)
        }
        (Source::Mysql(snapshot), _) => {
            let url = snapshot.url();
            let mut conn = mysql::connect(url).await?;
            let tables: Vec<String> = plan.tables.iter().map(|t| t.table.name.name.clone()).collect();
            // Views come along, as with mysqldump, unless `only` leaves tables out (a view of a
            // table left out could not be created).
            let views = if plan.excluded.is_empty() {
                mysql::introspect::views(&mut conn, url.database()).await?
            } else {
                Vec::new()
            };
            let scripts = mysql::ddl::schema_scripts(&mut conn, url.database(), &tables, &views).await?;
            Ok(SchemaScripts {
                pre_data: scripts.pre_data,
                post_data: scripts.post_data,
                clean: scripts.clean,
            })
        }
        (Source::Mongo(source), _) => crate::create_mongo::schema_files(source, plan).await,
        _ => unreachable!("a source is opened from its own URL"),
    }
}

/// Stores a schema script (encrypted as `<path>.age` with a sealer); the manifest entry records
/// the stored bytes' size and checksum.
pub(crate) fn write_script(
    store: &dyn Datastore,
    sealer: Option<&Sealer>,
    dump: &str,
    path: &str,
    text: &str,
) -> anyhow::Result<FileManifest> {
    use sha2::Digest;
    let (path, bytes) = match sealer {
        Some(sealer) => (format!("{path}.age"), sealer.seal_all(text.as_bytes())?),
        None => (path.to_string(), text.as_bytes().to_vec()),
    };
    store
        .write_all(&format!("{dump}/{path}"), &bytes)
        .with_context(|| format!("writing {path} of dump {dump} failed"))?;
    Ok(FileManifest {
        bytes: bytes.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        path,
    })
}

/// How tables are cut into chunks.
#[derive(Clone)]
pub(crate) struct ChunkSettings {
    /// Uncompressed bytes per chunk.
    pub(crate) size: u64,
    pub(crate) level: i32,
    pub(crate) sealer: Option<Arc<Sealer>>,
}

/// One stream of work: a whole table, or one range of a table split across workers.
struct Job<'p> {
    index: usize,
    table: &'p TablePlan,
    filter: RowFilter,
    /// The range's position in its table (0 for a whole table): chunks are listed in this order.
    part: usize,
    range: Option<ReadRange>,
    /// The table's estimated bytes shared among its ranges, for ordering the work.
    estimated_bytes: u64,
}

/// Most ranges a table is cut into, whatever its size: each is one query and at least one chunk.
const MAX_RANGES: usize = 1024;

/// The work of a dump: every table, with those over `dump.split_table_bytes` cut into ranges
/// (at least one per stream) so that one large table does not leave the other workers idle.
/// Largest first, so the longest streams start at once and the small ones fill the gaps.
async fn plan_jobs<'p>(
    config: &Config,
    source: &Source,
    plan: &'p Plan,
    subset: Option<&Arc<Subset>>,
    streams: usize,
) -> anyhow::Result<Vec<Job<'p>>> {
    let mut jobs = Vec::with_capacity(plan.tables.len());
    for (index, table) in plan.tables.iter().enumerate() {
        // A document's identity is its `_id`, whatever other fields it has.
        let copied: Vec<String> = match source {
            Source::Mongo(_) => vec!["_id".to_string()],
            _ => table.columns.iter().map(|c| c.name.clone()).collect(),
        };
        let filter = subset.map_or(RowFilter::All, |s| s.filter(index, &copied));
        let bytes = table.table.estimated_bytes.max(0) as u64;
        let split = config.dump.split_table_bytes;
        // Subset tables are read by key, in slices of the kept keys, not by range.
        let ranges = if !table.skipped && matches!(filter, RowFilter::All) && streams > 1 && split > 0 && bytes > split
        {
            let parts = (bytes.div_ceil(split) as usize).max(streams).min(MAX_RANGES);
            source
                .split(&table.table, parts)
                .await
                .with_context(|| format!("splitting table {} into ranges failed", table.table.name))?
        } else {
            None
        };
        match ranges {
            Some(ranges) => {
                tracing::info!(
                    table = %table.table.name,
                    ranges = ranges.len(),
                    estimated_bytes = bytes,
                    "large table: read in ranges on several connections"
                );
                let share = bytes / ranges.len() as u64;
                for (part, range) in ranges.into_iter().enumerate() {
                    jobs.push(Job {
                        index,
                        table,
                        filter: filter.clone(),
                        part,
                        range: Some(range),
                        estimated_bytes: share,
                    });
                }
            }
            None => jobs.push(Job {
                index,
                table,
                filter,
                part: 0,
                range: None,
                estimated_bytes: bytes,
            }),
        }
    }
    jobs.sort_by_key(|j| (std::cmp::Reverse(j.estimated_bytes), j.index, j.part));
    Ok(jobs)
}

/// Runs the jobs on `streams` workers, each keeping its connection of the snapshot from one job
/// to the next. Returns each table's manifest entry (in plan order) and the rows read for it.
#[allow(clippy::too_many_arguments)]
async fn run_jobs(
    source: &Source,
    store: &Arc<dyn Datastore>,
    dump: &str,
    plan: &Plan,
    jobs: Vec<Job<'_>>,
    chunks: &ChunkSettings,
    streams: usize,
    progress: &Progress,
) -> anyhow::Result<Vec<(usize, TableManifest, u64)>> {
    let tables = plan.tables.len();
    let remaining: Vec<AtomicUsize> = (0..tables).map(|_| AtomicUsize::new(0)).collect();
    for job in &jobs {
        remaining[job.index].fetch_add(1, Ordering::Relaxed);
    }
    let rows: Vec<AtomicU64> = (0..tables).map(|_| AtomicU64::new(0)).collect();
    let numbers: Vec<Arc<AtomicUsize>> = (0..tables).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let queue = std::sync::Mutex::new(std::collections::VecDeque::from(jobs));
    let runner = || async {
        let mut worker: Option<SourceWorker<'_>> = None;
        let mut done = Vec::new();
        loop {
            let Some(job) = queue.lock().expect("job queue lock").pop_front() else {
                break;
            };
            let name = &job.table.table.name;
            let (written, read) = dump_job(
                source,
                &mut worker,
                store.clone(),
                dump,
                &job,
                chunks,
                &numbers[job.index],
            )
            .await
            .with_context(|| match &job.range {
                Some(range) => format!("dumping table {name} ({range}) failed"),
                None => format!("dumping table {name} failed"),
            })?;
            let job_rows: u64 = written.iter().map(|c| c.rows).sum();
            let table_rows = rows[job.index].fetch_add(job_rows, Ordering::Relaxed) + job_rows;
            if remaining[job.index].fetch_sub(1, Ordering::Relaxed) == 1 && !job.table.skipped {
                progress.table_done(&name.schema, &name.name, table_rows);
            }
            done.push((job.index, job.part, written, read));
        }
        anyhow::Ok(done)
    };
    let mut pieces: Vec<_> = futures_util::future::try_join_all((0..streams).map(|_| runner()))
        .await?
        .into_iter()
        .flatten()
        .collect();
    pieces.sort_by_key(|(index, part, _, _)| (*index, *part));
    let mut table_chunks: Vec<Vec<ChunkManifest>> = vec![Vec::new(); tables];
    let mut read = vec![0u64; tables];
    for (index, _, written, rows) in pieces {
        table_chunks[index].extend(written);
        read[index] += rows;
    }
    Ok(plan
        .tables
        .iter()
        .zip(table_chunks)
        .zip(read)
        .enumerate()
        .map(|(index, ((table, chunks), read))| (index, finish_manifest(table_manifest(table), chunks), read))
        .collect())
}

/// Dumps one job into chunks numbered from the table's shared counter; returns them and the rows
/// read from the source. `worker` is the runner's connection, opened on its first SQL job.
async fn dump_job<'s>(
    source: &'s Source,
    worker: &mut Option<SourceWorker<'s>>,
    store: Arc<dyn Datastore>,
    dump: &str,
    job: &Job<'_>,
    chunks: &ChunkSettings,
    numbers: &Arc<AtomicUsize>,
) -> anyhow::Result<(Vec<ChunkManifest>, u64)> {
    let plan = job.table;
    let table = &plan.table;
    let filter = job.filter.clone();
    if plan.skipped || matches!(filter, RowFilter::Nothing) {
        return Ok((Vec::new(), 0));
    }
    // Named by the memory watchdog should a value not fit in dump.memory_limit.
    let reading = crate::budget::Reading::start(plan, !matches!(source, Source::Mongo(_)));
    if let Source::Mongo(mongo) = source {
        return crate::create_mongo::dump_collection(
            mongo,
            store,
            dump,
            plan,
            filter,
            chunks,
            job.range.as_ref(),
            numbers,
        )
        .await;
    }
    if worker.is_none() {
        *worker = Some(source.worker().await?);
    }
    let worker = worker.as_mut().expect("opened above");
    let columns: Vec<(&str, &str)> = plan.column_types().collect();
    let rewriter = RowRewriter::new(
        plan.columns
            .iter()
            .map(|c| (c.name.clone(), c.rule.as_ref().map(|r| r.implementation.clone())))
            .collect(),
    )
    .with_dialect(source.dialect());
    let format = match source.dialect() {
        Dialect::Postgres => "copy",
        Dialect::Mysql => "tsv",
    };

    let (tx, rx) = mpsc::channel::<Bytes>(BATCHES_IN_FLIGHT);
    // Batches come back once written, so the reader refills them instead of allocating a fresh
    // megabyte (and faulting its pages in) per batch.
    let (spare_tx, mut spare_rx) = mpsc::unbounded_channel::<BytesMut>();
    let (written, read) = {
        let writer = {
            let dump = dump.to_string();
            let name = table.name.clone();
            let filter = filter.clone();
            let chunks = chunks.clone();
            let numbers = numbers.clone();
            tokio::task::spawn_blocking(move || {
                write_chunks(
                    rx,
                    &rewriter,
                    &filter,
                    store.as_ref(),
                    &dump,
                    &name,
                    format,
                    chunks,
                    &numbers,
                    Some(&spare_tx),
                )
            })
        };
        let read = read_job(worker, job, &columns, &filter, &tx, &mut spare_rx, &reading).await;
        drop(tx);
        let written = writer.await.context("the chunk writer thread panicked")?;
        (written, read)
    };
    read?;
    written
}

/// Reads a job's rows from the source and hands them to the chunk writer: the whole table, one
/// range of it, or (for a subset) the kept keys slice by slice. Ends with an empty batch, the
/// writer's sign that the rows are complete.
async fn read_job(
    worker: &mut SourceWorker<'_>,
    job: &Job<'_>,
    columns: &[(&str, &str)],
    filter: &RowFilter,
    tx: &mpsc::Sender<Bytes>,
    spares: &mut mpsc::UnboundedReceiver<BytesMut>,
    reading: &crate::budget::Reading,
) -> anyhow::Result<()> {
    let table = &job.table.table;
    let mut batch = BytesMut::with_capacity(BATCH_CAPACITY);
    let server_keys = match filter {
        RowFilter::Keys(keys) => keys.server_keys(),
        _ => None,
    };
    let complete = match (server_keys, &job.range) {
        (None, range) => {
            let stream = match range {
                None => worker.copy_out(&table.name, columns, None).await?,
                Some(range) => worker.copy_out_range(&table.name, columns, range).await?,
            };
            forward(stream, tx, &mut batch, spares, reading).await?
        }
        // One query per slice of the kept keys, so neither the statement nor the server's key
        // table grows with the subset.
        (Some(mut keys), _) => loop {
            let slice = keys.next_batch(KEYS_PER_QUERY);
            if slice.is_empty() {
                break true;
            }
            tracing::debug!(table = %table.name, keys = slice.len(), "reading kept rows by key");
            let stream = worker
                .copy_out_with_keys(&table.name, columns, keys.column, keys.type_name, &slice)
                .await?;
            if !forward(stream, tx, &mut batch, spares, reading).await? {
                break false;
            }
        },
    };
    if complete {
        if !batch.is_empty() {
            let _ = tx.send(batch.freeze()).await;
        }
        // An empty batch marks the end: a channel closed without it means the dump was abandoned
        // (an error or a signal), and the writer must not commit what it holds.
        let _ = tx.send(Bytes::new()).await;
    }
    Ok(())
}
/// A table's manifest entry before its chunks are known.
pub(crate) fn table_manifest(plan: &TablePlan) -> TableManifest {
    let table = &plan.table;
    TableManifest {
        schema: table.name.schema.clone(),
        name: table.name.name.clone(),
        columns: table
            .columns
            .iter()
            .map(|c| ColumnManifest {
                name: c.name.clone(),
                type_name: c.type_name.clone(),
            })
            .collect(),
        copied_columns: plan.columns.iter().map(|c| c.name.clone()).collect(),
        skipped: plan.skipped,
        rows: 0,
        raw_bytes: 0,
        stored_bytes: 0,
        transformed: plan
            .transformed()
            .map(|(column, rule)| TransformedColumn {
                column: column.to_string(),
                transformer: rule.transformer.clone(),
                follows: rule.follows.clone(),
            })
            .collect(),
        chunks: Vec::new(),
    }
}

/// A table's manifest entry with its chunks and their totals.
pub(crate) fn finish_manifest(mut manifest: TableManifest, chunks: Vec<ChunkManifest>) -> TableManifest {
    manifest.chunks = chunks;
    manifest.rows = manifest.chunks.iter().map(|c| c.rows).sum();
    manifest.raw_bytes = manifest.chunks.iter().map(|c| c.raw_bytes).sum();
    manifest.stored_bytes = manifest.chunks.iter().map(|c| c.stored_bytes).sum();
    manifest
}

/// Passes a COPY stream to the chunk writer in batches of about [`BATCH_BYTES`], keeping the
/// unsent tail in `batch` for the next stream. `Ok(false)` when the writer stopped (its error is
/// what the caller reports). A large row is checked against `dump.memory_limit` before it is
/// copied.
async fn forward<S>(
    stream: S,
    tx: &mpsc::Sender<Bytes>,
    batch: &mut BytesMut,
    spares: &mut mpsc::UnboundedReceiver<BytesMut>,
    reading: &crate::budget::Reading,
) -> anyhow::Result<bool>
where
    S: futures_util::Stream<Item = Result<Bytes, ConnectorError>>,
{
    futures_util::pin_mut!(stream);
    while let Some(piece) = stream.next().await {
        let piece = piece?;
        crate::budget::check_row(&piece, reading)?;
        batch.extend_from_slice(&piece);
        if batch.len() >= BATCH_BYTES {
            let next = match spares.try_recv() {
                Ok(mut spare) => {
                    spare.clear();
                    spare
                }
                Err(_) => BytesMut::with_capacity(BATCH_CAPACITY),
            };
            if tx.send(std::mem::replace(batch, next).freeze()).await.is_err() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Hands a written batch back to its reader, when nothing else holds it.
fn recycle(batch: Bytes, spares: Option<&mpsc::UnboundedSender<BytesMut>>) {
    if let (Some(spares), Ok(buffer)) = (spares, batch.try_into_mut()) {
        let _ = spares.send(buffer);
    }
}

/// Runs on a blocking thread: splits batches into rows, drops the rows a subset leaves out, rewrites
/// transformed fields, and rolls over to a new chunk at a row boundary once the current one holds
/// `settings.size` bytes. Returns the chunks and the number of rows read from the source.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_chunks(
    mut rx: mpsc::Receiver<Bytes>,
    rewriter: &RowRewriter,
    filter: &RowFilter,
    store: &dyn Datastore,
    dump: &str,
    table: &connectors::QualifiedName,
    format: &str,
    settings: ChunkSettings,
    numbers: &AtomicUsize,
    spares: Option<&mpsc::UnboundedSender<BytesMut>>,
) -> anyhow::Result<(Vec<ChunkManifest>, u64)> {
    let mut chunks = Vec::new();
    let mut read: u64 = 0;
    let mut current: Option<ChunkWriter> = None;
    let mut carry: Vec<u8> = Vec::new();
    // The row cut at the end of the last batch joined to this batch's rows; kept between batches.
    let mut joined: Vec<u8> = Vec::new();
    let mut rewritten: Vec<u8> = Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 4);
    let mut row_number: u64 = 0;
    let mut complete_table = false;
    while let Some(batch) = rx.blocking_recv() {
        if batch.is_empty() {
            complete_table = true;
            break;
        }
        let Some(last_newline) = batch.iter().rposition(|&b| b == b'\n') else {
            carry.extend_from_slice(&batch);
            recycle(batch, spares);
            continue;
        };
        let complete: &[u8] = if carry.is_empty() {
            &batch[..=last_newline]
        } else {
            joined.clear();
            joined.extend_from_slice(&carry);
            joined.extend_from_slice(&batch[..=last_newline]);
            carry.clear();
            &joined
        };
        let in_batch = complete.iter().filter(|&&b| b == b'\n').count() as u64;
        read += in_batch;
        let mut rows = in_batch;
        let data: &[u8] = match filter {
            RowFilter::All | RowFilter::Nothing if rewriter.is_passthrough() => complete,
            RowFilter::Keys(keys) => {
                rewritten.clear();
                rows = 0;
                let mut scratch = Vec::new();
                for line in complete[..complete.len() - 1].split(|&b| b == b'\n') {
                    row_number += 1;
                    if !keys.keeps(line, &mut scratch) {
                        continue;
                    }
                    rows += 1;
                    if rewriter.is_passthrough() {
                        rewritten.extend_from_slice(line);
                        rewritten.push(b'\n');
                    } else {
                        rewriter
                            .rewrite(line, &mut rewritten)
                            .with_context(|| format!("table {table}, row {row_number}"))?;
                    }
                }
                &rewritten
            }
            _ => {
                rewritten.clear();
                for line in complete[..complete.len() - 1].split(|&b| b == b'\n') {
                    row_number += 1;
                    rewriter
                        .rewrite(line, &mut rewritten)
                        .with_context(|| format!("table {table}, row {row_number}"))?;
                }
                &rewritten
            }
        };
        if rows == 0 {
            carry.extend_from_slice(&batch[last_newline + 1..]);
            recycle(batch, spares);
            continue;
        }
        if current.is_none() {
            let index = numbers.fetch_add(1, Ordering::Relaxed);
            let mut key = dump::chunk_key(dump, table, index, format);
            if settings.sealer.is_some() {
                key.push_str(".age");
            }
            let path = key[dump.len() + 1..].to_string();
            current = Some(
                ChunkWriter::create(store, &key, path, settings.level, settings.sealer.as_deref())
                    .with_context(|| format!("cannot create chunk {key} in {}", store.describe()))?,
            );
        }
        let writer = current.as_mut().expect("a chunk is open");
        writer
            .write_rows(data, rows)
            .with_context(|| format!("writing chunk {} of dump {dump} failed", writer.path()))?;
        if writer.raw_bytes() >= settings.size {
            let finished = current.take().expect("a chunk is open");
            chunks.push(finished.finish()?);
        }
        carry.extend_from_slice(&batch[last_newline + 1..]);
        recycle(batch, spares);
    }
    if !complete_table {
        bail!("the dump of table {table} stopped before the table was complete");
    }
    if !carry.is_empty() {
        bail!("the server's COPY data for table {table} ended in the middle of a row");
    }
    if let Some(writer) = current {
        chunks.push(writer.finish()?);
    }
    Ok((chunks, read))
}
