//! `decoy dump restore`: schema without constraints, data in parallel with COPY FROM streamed straight
//! from the datastore (verified as it goes), then indexes, constraints, foreign keys and sequences.

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use connectors::postgres::{self, quote_ident, quote_qualified, PgUrl};
use connectors::ConnectorError;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use crate::datastore::Datastore;
use crate::dump::{self, ChunkManifest, Manifest, TableManifest};
use crate::progress::Progress;
use crate::restore_marker as marker;

/// A PostgreSQL dump's schema scripts, each read and checked against its checksum before anything
/// is written (to a target or to a script), with the clean script made safe to run over an earlier
/// restore of the same dump.
struct Scripts {
    pre_data: String,
    post_data: String,
    clean: String,
}

impl Scripts {
    fn read(store: &dyn Datastore, manifest: &Manifest) -> anyhow::Result<Scripts> {
        let post_data = manifest.read_script(store, &manifest.schema.post_data)?;
        let clean = manifest.read_script(store, &manifest.schema.clean)?;
        Ok(Scripts {
            pre_data: manifest.read_script(store, &manifest.schema.pre_data)?,
            clean: postgres::clean_script(&clean, &post_data),
            post_data,
        })
    }
}

/// What a restore did, for the final summary.
pub struct Restored {
    pub tables: usize,
    pub rows: u64,
}

pub async fn to_database(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    url: &PgUrl,
    clean: bool,
    workers: usize,
) -> anyhow::Result<Restored> {
    let client = postgres::connect(url).await?;
    let scripts = Scripts::read(store.as_ref(), manifest)?;
    match marker::postgres::read(&client).await? {
        Some(found) if !clean => return Err(marker::refusal(url, &marker::postgres::found(), &found)),
        Some(found) => marker::warn_if_other_dump(&found, &manifest.name),
        None => {}
    }
    if !clean {
        refuse_existing_tables(&client, manifest, url).await?;
    }
    // From here on the target changes: the marker goes first and comes off last.
    marker::postgres::write(&client, &manifest.name).await?;
    marker::set_marked(Some((&manifest.name, url)));
    if clean {
        postgres::run_script(&client, "dropping what the dump contains (--clean)", &scripts.clean).await?;
    }
    postgres::run_script(&client, "creating the schema (schema/pre-data.sql)", &scripts.pre_data).await?;
    let phase = std::time::Instant::now();

    // COPY from several connections into one table: a large table is no longer one stream. A
    // table's indexes and key constraints are built as soon as its rows are in, while the others
    // still load; loads and builds share `workers` permits, as pg_restore -j shares its jobs.
    let post = postgres::PostData::new(url, &scripts.post_data, workers);
    let permits = tokio::sync::Semaphore::new(workers);
    // Load connections are kept from one part to the next (a failed load's is dropped).
    let idle = tokio::sync::Mutex::new(Vec::<tokio_postgres::Client>::new());
    let (loaded_tx, mut loaded_rx) = mpsc::unbounded_channel::<(String, String)>();
    let loading = async {
        let rows = load_parts(
            manifest,
            workers,
            true,
            |table, chunks| {
                let (store, permits, idle) = (store.clone(), &permits, &idle);
                async move {
                    let _permit = permits.acquire().await.expect("the semaphore is never closed");
                    let client = match idle.lock().await.pop() {
                        Some(client) => client,
                        None => load_connection(url).await?,
                    };
                    let rows = load_part(store, manifest, table, chunks, &client).await?;
                    idle.lock().await.push(client);
                    Ok(rows)
                }
            },
            |table| {
                let _ = loaded_tx.send((table.schema.clone(), table.name.clone()));
            },
        )
        .await;
        drop(loaded_tx);
        tracing::info!(seconds = phase.elapsed().as_secs_f64(), "data loaded");
        rows
    };
    let (post_ref, permits_ref) = (&post, &permits);
    let building = async move {
        let (post, permits) = (post_ref, permits_ref);
        let mut builds = futures_util::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                next = loaded_rx.recv() => match next {
                    Some((schema, table)) => builds.push(async move {
                        post.build_table(&schema, &table, permits)
                            .await
                            .with_context(|| format!("creating the indexes and key constraints of {schema}.{table} failed"))
                    }),
                    None => break,
                },
                Some(built) = builds.next(), if !builds.is_empty() => built?,
            }
        }
        while let Some(built) = builds.next().await {
            built?;
        }
        anyhow::Ok(())
    };
    let (rows, ()) = tokio::try_join!(loading, building)?;

    // Foreign keys and the rest need every table.
    post.finish()
        .await
        .context("creating indexes, constraints and foreign keys (schema/post-data.sql) failed")?;
    tracing::info!(
        seconds = phase.elapsed().as_secs_f64(),
        "indexes, constraints and foreign keys created"
    );
    postgres::set_sequences(&client, &manifest.schema.sequences).await?;
    marker::postgres::remove(&client).await?;
    marker::set_marked(None);
    Ok(Restored {
        tables: manifest.tables.len(),
        rows,
    })
}

/// Loads every table that has rows, `workers` loads at a time, largest tables first so the longest
/// load starts at once, with progress. With `split`, a table larger than one worker's share of the
/// dump is loaded in parts of consecutive chunks by several connections at once: one part per
/// share, never more than the workers or its chunks. `load` gets a table and the chunks of one part and returns the rows it loaded; each
/// table's total is checked against the manifest, and `loaded` hears of it then.
pub async fn load_parts<'m, F, Fut>(
    manifest: &'m Manifest,
    workers: usize,
    split: bool,
    load: F,
    loaded: impl Fn(&'m TableManifest),
) -> anyhow::Result<u64>
where
    F: Fn(&'m TableManifest, &'m [ChunkManifest]) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<u64>>,
{
    let mut order: Vec<(usize, &TableManifest)> = manifest
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.chunks.is_empty())
        .collect();
    order.sort_by_key(|(_, t)| std::cmp::Reverse(t.raw_bytes));
    let mut parts: Vec<(usize, &TableManifest, &[ChunkManifest])> = Vec::new();
    // A table is cut into parts only when it is more than one worker's share of the whole: two
    // connections loading one table contend for its extension lock, so other tables loading
    // beside it are faster whenever there are enough of them (measured: 7.9 s against 7.1 s on
    // the benchmark's 8-million-row database, whose largest table is a quarter of the rows).
    let total: u64 = order.iter().map(|(_, t)| t.raw_bytes).sum();
    let share = total.div_ceil(workers.max(1) as u64).max(1);
    for &(index, table) in &order {
        let count = if split {
            (table.raw_bytes.div_ceil(share) as usize).clamp(1, workers.min(table.chunks.len()).max(1))
        } else {
            1
        };
        let per_part = table.chunks.len().div_ceil(count);
        parts.extend(table.chunks.chunks(per_part).map(|chunks| (index, table, chunks)));
    }
    // Parts left per table and rows loaded so far, for progress and the final check.
    let pending: std::sync::Mutex<std::collections::HashMap<usize, (usize, u64)>> = std::sync::Mutex::new(
        order
            .iter()
            .map(|&(i, _)| (i, (parts.iter().filter(|(p, _, _)| *p == i).count(), 0)))
            .collect(),
    );
    let progress = Progress::new("restoring", order.len() as u64);
    let rows: Vec<u64> = futures_util::stream::iter(parts)
        .map(|(index, table, chunks)| {
            let (progress, pending, loaded) = (progress.clone(), &pending, &loaded);
            let loading = load(table, chunks);
            async move {
                let rows = loading
                    .await
                    .with_context(|| format!("restoring table {}.{} failed", table.schema, table.name))?;
                let finished = {
                    let mut pending = pending.lock().expect("no panic while holding it");
                    let entry = pending.get_mut(&index).expect("every part's table is pending");
                    entry.0 -= 1;
                    entry.1 += rows;
                    (entry.0 == 0).then_some(entry.1)
                };
                if let Some(total) = finished {
                    if total != table.rows {
                        bail!(
                            "loaded {total} rows into {}.{} where the manifest says {}",
                            table.schema,
                            table.name,
                            table.rows
                        );
                    }
                    progress.table_done(&table.schema, &table.name, total);
                    loaded(table);
                }
                anyhow::Ok(rows)
            }
        })
        .buffer_unordered(workers)
        .try_collect()
        .await?;
    progress.finish();
    Ok(rows.iter().sum())
}

/// Restoring over existing tables would mix two datasets: ask for --clean instead.
async fn refuse_existing_tables(
    client: &tokio_postgres::Client,
    manifest: &Manifest,
    url: &PgUrl,
) -> anyhow::Result<()> {
    let schemas: Vec<String> = manifest.tables.iter().map(|t| t.schema.clone()).collect();
    let names: Vec<String> = manifest.tables.iter().map(|t| t.name.clone()).collect();
    let rows = client
        .query(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN unnest($1::text[], $2::text[]) AS d(s, t) ON d.s = n.nspname AND d.t = c.relname \
             WHERE c.relkind IN ('r', 'p') ORDER BY 1 LIMIT 5",
            &[&schemas, &names],
        )
        .await
        .map_err(ConnectorError::query("checking the target for existing tables"))?;
    if !rows.is_empty() {
        let existing: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        bail!(crate::error::ConfigError::new(format!(
            "{url} already has tables of this dump ({}); restore into an empty database, or pass --clean to drop and \
             recreate everything the dump contains",
            existing.join(", ")
        )));
    }
    Ok(())
}

/// A connection for COPY FROM.
async fn load_connection(url: &PgUrl) -> anyhow::Result<tokio_postgres::Client> {
    let client = postgres::connect(url).await?;
    // A test database does not need every commit flushed before the next row arrives.
    client
        .batch_execute("SET synchronous_commit TO off")
        .await
        .map_err(ConnectorError::query("preparing a restore connection"))?;
    Ok(client)
}

/// Loads some chunks of a table with COPY FROM on `client`.
async fn load_part(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    table: &TableManifest,
    chunks: &[ChunkManifest],
    client: &tokio_postgres::Client,
) -> anyhow::Result<u64> {
    let (stream, reader) = chunks_stream(store, manifest, chunks.to_vec());
    let name = Manifest::table_name(table);
    let loaded = postgres::copy_in(client, &name, &table.copied_columns, stream).await;
    reader.await.context("the chunk reader thread panicked")?;
    let rows = loaded?;
    let expected: u64 = chunks.iter().map(|c| c.rows).sum();
    if rows != expected {
        bail!("loaded {rows} rows into {name} where its chunks hold {expected}");
    }
    Ok(rows)
}

/// A table's chunks, read (and verified) on a blocking thread and streamed as their decompressed
/// bytes. A chunk that fails its checks ends the stream with an error, so the load that consumes it
/// is abandoned and its rows rolled back. Await the handle once the stream is done.
pub fn chunk_stream(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    table: &TableManifest,
) -> (
    impl futures_util::Stream<Item = Result<Bytes, ConnectorError>> + Send + 'static,
    tokio::task::JoinHandle<()>,
) {
    chunks_stream(store, manifest, table.chunks.clone())
}

/// [`chunk_stream`] for some of a table's chunks.
pub fn chunks_stream(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    chunks: Vec<ChunkManifest>,
) -> (
    impl futures_util::Stream<Item = Result<Bytes, ConnectorError>> + Send + 'static,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, ConnectorError>>(4);
    let reader = {
        let dump = manifest.name.clone();
        let opener = manifest.opener.clone();
        tokio::task::spawn_blocking(move || {
            for chunk in &chunks {
                let result = dump::read_chunk(
                    store.as_ref(),
                    &dump,
                    chunk,
                    opener.as_deref(),
                    &mut |bytes: &[u8]| {
                        tx.blocking_send(Ok(Bytes::copy_from_slice(bytes)))
                            .map_err(|_| anyhow::anyhow!("load stopped"))
                    },
                );
                if let Err(e) = result {
                    let _ = tx.blocking_send(Err(ConnectorError::Tool(e.to_string())));
                    return;
                }
            }
        })
    };
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (stream, reader)
}

/// Writes a plain SQL script that `psql -f` loads: schema, COPY blocks, constraints, sequences.
/// Every schema script is checked before the first line is written, and every chunk before any of
/// its rows is ([`dump::read_chunk_verified`]): `psql` runs what it reads as it reads it, so a row
/// written before its chunk's checksum is known could be loaded even though the restore then
/// fails. Should a chunk fail, the script ends with a statement that fails, so that `psql -v
/// ON_ERROR_STOP=1` stops with an error too instead of ending as if the script were complete. The
/// whole script is one transaction, so nothing of a script cut short is committed.
pub fn to_script(store: &dyn Datastore, manifest: &Manifest, clean: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let scripts = Scripts::read(store, manifest)?;
    writeln!(
        out,
        "-- decoy dump {} of database {} (PostgreSQL {}), created {}\n-- Load with: psql -v ON_ERROR_STOP=1 -f FILE\n",
        manifest.name,
        manifest.source.database.as_deref().unwrap_or("?"),
        manifest.source.server_version,
        manifest.created_at.to_rfc3339()
    )?;
    // One transaction: a script cut short (decoy killed while writing to `| psql`, a full disk)
    // ends with the transaction still open, and psql's session ends by rolling it back, so the
    // target is either the whole dump or untouched.
    writeln!(out, "BEGIN;\n")?;
    if clean {
        out.write_all(scripts.clean.as_bytes())?;
    }
    out.write_all(scripts.pre_data.as_bytes())?;
    for table in manifest.tables.iter().filter(|t| !t.chunks.is_empty()) {
        let columns: Vec<String> = table.copied_columns.iter().map(|c| quote_ident(c)).collect();
        writeln!(
            out,
            "\nCOPY {} ({}) FROM stdin;",
            quote_qualified(&Manifest::table_name(table)),
            columns.join(", ")
        )?;
        for chunk in &table.chunks {
            let verified = dump::read_chunk_verified(
                store,
                &manifest.name,
                chunk,
                manifest.opener(),
                &mut |bytes: &[u8]| Ok(out.write_all(bytes)?),
            );
            if let Err(e) = verified {
                // Chunks end at row boundaries, so the COPY can be closed here.
                let _ = write!(
                    out,
                    "\\.\n\n\\set ON_ERROR_STOP on\nDO $$ BEGIN RAISE EXCEPTION 'decoy: this script is incomplete: \
                     chunk {} failed verification (see decoy''s error)'; END $$;\n",
                    chunk.path.replace('\'', "''").replace('$', "")
                );
                let _ = out.flush();
                return Err(e);
            }
        }
        writeln!(out, "\\.")?;
    }
    out.write_all(b"\n")?;
    out.write_all(scripts.post_data.as_bytes())?;
    for seq in &manifest.schema.sequences {
        let name = quote_qualified(&connectors::QualifiedName::new(&seq.schema, &seq.name));
        let name = name.replace('\'', "''");
        // Guarded like the database path: a sequence left out with its table is passed over.
        writeln!(
            out,
            "SELECT pg_catalog.setval(to_regclass('{name}'), {}, {}) WHERE to_regclass('{name}') IS NOT NULL;",
            seq.last_value, seq.is_called
        )?;
    }
    writeln!(out, "\nCOMMIT;")?;
    out.flush()?;
    Ok(())
}
