//! `decoy dump create --from-file FILE`: a plain-SQL pg_dump or mysqldump file (or `-` for standard
//! input) anonymized into a dump without any database: the same plan, rules, chunks, schema scripts
//! and manifest as a live dump of the database the file came from.
//!
//! The file is read twice, front to back: first its DDL (pg_dump puts keys and constraints after the
//! data, and the plan needs them before the first row), then its data, one table at a time, into the
//! same chunk writer as the live path. Standard input is kept in a temporary file between the two.
//! Memory holds one batch of rows and at most one INSERT statement (a mysqldump extended INSERT is
//! bounded by the server's `max_allowed_packet`).

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::Utc;
use connectors::dumpfile::statements::CopyLine;
use connectors::dumpfile::values::{self, FieldKind, RowLayout};
use connectors::dumpfile::{self, DataPass, DataStart, DumpSchema, Engine};
use connectors::postgres::copy_text::{Dialect, RowRewriter};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::create::{write_chunks, write_script, ChunkSettings, BATCHES_IN_FLIGHT, BATCH_BYTES};
use crate::crypto::Sealer;
use crate::datastore::Datastore;
use crate::dump::{self, ChunkManifest, DumpWriter, Manifest, SchemaManifest, SourceManifest, TableManifest, Totals};
use crate::error::ConfigError;
use crate::plan::{self, Plan, TablePlan};
use crate::subset::RowFilter;

/// Where the second pass reads from: the file again, or the copy of standard input.
enum Input {
    File(PathBuf),
    Spooled(tempfile::NamedTempFile),
}

impl Input {
    fn path(&self) -> &Path {
        match self {
            Input::File(path) => path,
            Input::Spooled(temp) => temp.path(),
        }
    }
}

pub async fn run(config: &Config, name: Option<String>, file: &Path) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let created_at = Utc::now();
    if config.subset.is_some() {
        bail!(config.error_at(
            &["subset"],
            "`subset:` cannot be used with --from-file: choosing rows that keep every foreign key whole needs \
             random access to the source's rows, which a dump file read front to back does not give. Remove \
             `subset:` or dump from the database"
                .into(),
        ));
    }
    let label = if file.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        file.display().to_string()
    };

    let store: Arc<dyn Datastore> = Arc::from(crate::datastore::open(&config.datastore)?);
    let name = name.unwrap_or_else(|| dump::new_dump_name(created_at));
    dump::ensure_free(store.as_ref(), &name)?;

    // Pass 1: the schema. A file that is not a dump or is cut short fails here, before any write.
    let (schema, input) = {
        let file = file.to_path_buf();
        let label = label.clone();
        tokio::task::spawn_blocking(move || read_schema(&file, &label)).await??
    };
    for warning in &schema.warnings {
        tracing::warn!("{warning}");
    }
    let dialect = match schema.header.engine {
        Engine::Postgres => Dialect::Postgres,
        Engine::Mysql => Dialect::Mysql,
    };
    let mut plan = plan::build(config, &schema.schema)?;
    plan.dialect = dialect;
    tracing::info!(
        file = %label,
        dump = %name,
        tables = plan.tables.len(),
        excluded = plan.excluded.len(),
        "schema read from the file, plan ready"
    );

    let sealer = Sealer::from_config(config.encryption.as_ref())?.map(Arc::new);
    let writer = DumpWriter::claim(store.clone(), Some(name.clone()), created_at, config.dump.lease)?;
    if let Some(sealer) = &sealer {
        sealer
            .store_key(store.as_ref(), &name)
            .with_context(|| format!("writing the key of dump {name} failed"))?;
    }
    let settings = (config.dump.chunk_size, config.dump.compression_level);
    let plan = Arc::new(plan);
    let schema = Arc::new(schema);
    let written = {
        let (plan, schema, store, sealer, name, label) = (
            plan.clone(),
            schema.clone(),
            store.clone(),
            sealer.clone(),
            name.clone(),
            label.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let result = read_data(&input, &label, &schema, &plan, store, &name, settings, sealer);
            drop(input);
            result
        })
        .await??
    };

    let scripts = schema.scripts(&plan.excluded);
    let mut schemas: Vec<&str> = plan.tables.iter().map(|t| t.table.name.schema.as_str()).collect();
    schemas.sort();
    schemas.dedup();
    let left_out = schema.excluded_sequences(&plan.excluded);
    let sequences = schema
        .sequences
        .iter()
        .filter(|s| schemas.contains(&s.schema.as_str()))
        .filter(|s| !left_out.contains(&connectors::QualifiedName::new(&s.schema, &s.name)))
        .cloned()
        .collect();
    let write = |path: &str, text: &str| write_script(store.as_ref(), sealer.as_deref(), &name, path, text);
    let schema_manifest = SchemaManifest {
        pre_data: write("schema/pre-data.sql", &scripts.pre_data)?,
        post_data: write("schema/post-data.sql", &scripts.post_data)?,
        clean: write("schema/clean.sql", &scripts.clean)?,
        sequences,
    };

    let mut tables: Vec<TableManifest> = plan
        .tables
        .iter()
        .zip(written)
        .map(|(table, chunks)| crate::create::finish_manifest(crate::create::table_manifest(table), chunks))
        .collect();
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let totals = Totals {
        tables: tables.len(),
        rows: tables.iter().map(|t| t.rows).sum(),
        chunks: tables.iter().map(|t| t.chunks.len()).sum(),
        raw_bytes: tables.iter().map(|t| t.raw_bytes).sum(),
        stored_bytes: tables.iter().map(|t| t.stored_bytes).sum::<u64>()
            + schema_manifest.pre_data.bytes
            + schema_manifest.post_data.bytes
            + schema_manifest.clean.bytes,
    };
    let manifest = Manifest {
        format_version: dump::FORMAT_VERSION,
        tool: format!("decoy {}", env!("CARGO_PKG_VERSION")),
        name: name.clone(),
        created_at,
        finished_at: Utc::now(),
        duration_ms: started.elapsed().as_millis() as u64,
        source: SourceManifest {
            engine: match schema.header.engine {
                Engine::Postgres => "postgresql".into(),
                Engine::Mysql => "mysql".into(),
            },
            server_version: schema.header.server_version.clone(),
            database: schema.header.database.clone(),
        },
        schema: schema_manifest,
        tables,
        encryption: sealer.as_ref().map(|s| s.manifest().clone()),
        totals,
        subset: None,
        written_as: None,
        opener: None,
    };
    writer.commit(&manifest, sealer.as_deref())?;
    Ok(manifest)
}

/// The first pass, from the file or from standard input (copied to a temporary file as it is read).
fn read_schema(file: &Path, label: &str) -> anyhow::Result<(DumpSchema, Input)> {
    if file.as_os_str() == "-" {
        let mut temp = tempfile::NamedTempFile::new().context("cannot create a temporary file for standard input")?;
        let schema = {
            let mut copy = std::io::BufWriter::with_capacity(1 << 20, temp.as_file_mut());
            let stdin = std::io::stdin();
            let tee = dumpfile::Tee {
                reader: stdin.lock(),
                copy: &mut copy,
            };
            let (header, reader) = dumpfile::open(BufReader::with_capacity(1 << 20, tee), label).map_err(not_a_dump)?;
            let schema = dumpfile::read_schema(reader, header, label)?;
            copy.flush()
                .context("writing the temporary copy of standard input failed")?;
            schema
        };
        return Ok((schema, Input::Spooled(temp)));
    }
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {label}"))?;
    let (header, reader) = dumpfile::open(BufReader::with_capacity(1 << 20, opened), label).map_err(not_a_dump)?;
    let schema = dumpfile::read_schema(reader, header, label)?;
    Ok((schema, Input::File(file.to_path_buf())))
}

/// A file that is no dump was given by mistake: a usage error, like a wrong option.
fn not_a_dump(e: dumpfile::FileError) -> anyhow::Error {
    ConfigError::new(e.to_string()).into()
}

/// The table being written: its plan index, its layout and the writer thread's channel.
struct Current {
    index: usize,
    tx: mpsc::Sender<Bytes>,
    writer: std::thread::JoinHandle<anyhow::Result<(Vec<ChunkManifest>, u64)>>,
}

/// The second pass: every table's rows through the rules into chunks. Returns each plan table's
/// chunks, in plan order.
#[allow(clippy::too_many_arguments)]
fn read_data(
    input: &Input,
    label: &str,
    schema: &DumpSchema,
    plan: &Plan,
    store: Arc<dyn Datastore>,
    dump: &str,
    (size, level): (u64, i32),
    sealer: Option<Arc<Sealer>>,
) -> anyhow::Result<Vec<Vec<ChunkManifest>>> {
    let file = std::fs::File::open(input.path()).with_context(|| format!("cannot reopen {label}"))?;
    let mut pass = DataPass::new(BufReader::with_capacity(1 << 20, file), &schema.header, label);
    let index: HashMap<&connectors::QualifiedName, usize> = plan
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.table.name, i))
        .collect();
    let mut done: Vec<Option<Vec<ChunkManifest>>> = vec![None; plan.tables.len()];
    let mut current: Option<Current> = None;
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES + (BATCH_BYTES >> 2));
    let mut scratch: Vec<u8> = Vec::new();
    let engine = schema.header.engine;

    let result = (|| -> anyhow::Result<()> {
        while let Some(start) = pass.next_data()? {
            let (table, line) = match &start {
                DataStart::Copy { table, line, .. } => (table.clone(), *line),
                DataStart::Insert { table, statement, .. } => (table.clone(), statement.line),
            };
            let target = index.get(&table).copied();
            let wanted = target.filter(|&i| !plan.tables[i].skipped);
            if target.is_none() && !plan.excluded.contains(&table) {
                bail!(dumpfile::FileError::at(
                    label,
                    line,
                    format!("data for table {table}, which the file never creates"),
                ));
            }
            let Some(i) = wanted else {
                // Skipped or outside `only`: the rows are read past.
                if let DataStart::Copy { line, .. } = start {
                    while let CopyLine::Row = pass.copy_line(&mut scratch, line)? {
                        scratch.clear();
                    }
                }
                continue;
            };
            if current.as_ref().is_none_or(|c| c.index != i) {
                if let Some(previous) = current.take() {
                    let at = previous.index;
                    done[at] = Some(finish(previous, &mut batch)?);
                }
                if done[i].is_some() {
                    bail!(dumpfile::FileError::at(
                        label,
                        line,
                        format!(
                            "more data for table {table} after other tables' data: decoy reads each table's rows in \
                             one run, as pg_dump and mysqldump write them"
                        ),
                    ));
                }
                current = Some(start_writer(
                    plan,
                    i,
                    store.clone(),
                    dump,
                    ChunkSettings {
                        size,
                        level,
                        sealer: sealer.clone(),
                    },
                ));
            }
            let current = current.as_ref().expect("a writer is open");
            let layout_error = |e: String| dumpfile::FileError::at(label, line, format!("table {table}: {e}"));
            let all: Vec<(String, bool)> = plan.tables[i]
                .table
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.generated))
                .collect();
            let copied = copied_kinds(&plan.tables[i], engine);
            match start {
                DataStart::Copy { columns, line, .. } => {
                    let source = (!columns.is_empty()).then_some(columns.as_slice());
                    let layout = RowLayout::new(&all, &copied, source).map_err(layout_error)?;
                    let identity = layout.is_identity();
                    loop {
                        let target = if identity { &mut batch } else { &mut scratch };
                        if let CopyLine::End = pass.copy_line(target, line)? {
                            break;
                        }
                        if !identity {
                            let row = scratch.strip_suffix(b"\n").unwrap_or(&scratch);
                            layout
                                .copy_row(row, &mut batch)
                                .map_err(|e| dumpfile::FileError::at(label, line, format!("table {table}: {e}")))?;
                            scratch.clear();
                        }
                        if batch.len() >= BATCH_BYTES && !send(current, &mut batch) {
                            return Ok(());
                        }
                    }
                }
                DataStart::Insert { head, statement, .. } => {
                    let layout = match &head.columns {
                        Some(columns) => RowLayout::new(&all, &copied, Some(columns)),
                        None => values::first_row_width(engine, statement.body(), head.values_at)
                            .and_then(|width| RowLayout::for_width(&all, &copied, width)),
                    }
                    .map_err(layout_error)?;
                    values::insert_rows(engine, &statement, head.values_at, &layout, &mut batch, label)?;
                    if batch.len() >= BATCH_BYTES && !send(current, &mut batch) {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            if let Some(last) = current.take() {
                let at = last.index;
                done[at] = Some(finish(last, &mut batch)?);
            }
        }
        Err(e) => {
            // The writer stops at the closed channel without committing its chunk.
            if let Some(open) = current.take() {
                drop(open.tx);
                let _ = open.writer.join();
            }
            return Err(e);
        }
    }
    Ok(done.into_iter().map(Option::unwrap_or_default).collect())
}

/// Hands a batch to the writer; false when the writer has stopped (its error is reported by
/// [`finish`]).
fn send(current: &Current, batch: &mut Vec<u8>) -> bool {
    let full = std::mem::replace(batch, Vec::with_capacity(BATCH_BYTES + (BATCH_BYTES >> 2)));
    current.tx.blocking_send(Bytes::from(full)).is_ok()
}

/// Sends the rest and the end mark, and waits for the table's chunks.
fn finish(current: Current, batch: &mut Vec<u8>) -> anyhow::Result<Vec<ChunkManifest>> {
    if !batch.is_empty() {
        send(&current, batch);
    }
    // An empty batch marks the end of the table (see `write_chunks`).
    let _ = current.tx.blocking_send(Bytes::new());
    drop(current.tx);
    let (chunks, _) = current
        .writer
        .join()
        .map_err(|_| anyhow::anyhow!("the chunk writer thread panicked"))??;
    Ok(chunks)
}

fn start_writer(plan: &Plan, index: usize, store: Arc<dyn Datastore>, dump: &str, settings: ChunkSettings) -> Current {
    let table = &plan.tables[index];
    let rewriter = RowRewriter::new(
        table
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.rule.as_ref().map(|r| r.implementation.clone())))
            .collect(),
    )
    .with_dialect(plan.dialect);
    let format = match plan.dialect {
        Dialect::Postgres => "copy",
        Dialect::Mysql => "tsv",
    };
    let (tx, rx) = mpsc::channel::<Bytes>(BATCHES_IN_FLIGHT);
    let name = table.table.name.clone();
    let dump = dump.to_string();
    let writer = std::thread::spawn(move || {
        write_chunks(
            rx,
            &rewriter,
            &RowFilter::All,
            store.as_ref(),
            &dump,
            &name,
            format,
            settings,
            // A table appears once in a dump file, so its chunks are numbered from zero.
            &std::sync::atomic::AtomicUsize::new(0),
            None,
        )
        .with_context(|| format!("dumping table {name} failed"))
    });
    Current { index, tx, writer }
}

/// The dump's columns with how their values are written (MySQL by the column's codec, as live).
fn copied_kinds(table: &TablePlan, engine: Engine) -> Vec<(String, FieldKind)> {
    table
        .column_types()
        .map(|(name, type_name)| {
            let kind = match engine {
                Engine::Postgres => FieldKind::Postgres,
                Engine::Mysql => FieldKind::Mysql(connectors::mysql::text::field_codec(type_name)),
            };
            (name.to_string(), kind)
        })
        .collect()
}
