//! The MongoDB side of `decoy dump create`: each collection streams out of a cursor as raw BSON,
//! the rows a subset leaves out are dropped, the documents a rule touches are rewritten field by
//! field, and the rest are copied byte for byte into `.bson.zst` chunks (concatenated documents,
//! the format of mongodump's .bson files, so `mongorestore` reads a decompressed chunk as it is).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use bson::RawDocument;
use connectors::mongodb::document::DocumentRewriter;
use connectors::mongodb::paths::FieldPath;
use connectors::mongodb::read::range_filter;
use connectors::mongodb::values::push_key_text;
use connectors::postgres::SchemaScripts;
use connectors::{ConnectorError, ReadRange};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::create::{ChunkSettings, KEYS_PER_QUERY};
use crate::datastore::Datastore;
use crate::dump::{self, ChunkManifest, ChunkWriter};
use crate::plan::{Plan, TablePlan};
use crate::source::MongoSource;
use crate::subset::RowFilter;

/// Raw documents handed from the cursor to the chunk writer per batch.
const BATCH_BYTES: usize = 1 << 20;
const BATCHES_IN_FLIGHT: usize = 4;

/// `schema/collections.json` (options and validators), `schema/indexes.json` and
/// `schema/clean.json` (the collections a `--clean` restore drops).
pub async fn schema_files(source: &MongoSource, plan: &Plan) -> anyhow::Result<SchemaScripts> {
    let names: Vec<String> = plan.tables.iter().map(|t| t.table.name.name.clone()).collect();
    let specs = source.snapshot.describe(&names).await?;
    let collections: Vec<serde_json::Value> = specs
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "options": s.options }))
        .collect();
    let indexes: Vec<serde_json::Value> = specs
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "indexes": s.indexes }))
        .collect();
    Ok(SchemaScripts {
        pre_data: serde_json::to_string_pretty(&collections)?,
        post_data: serde_json::to_string_pretty(&indexes)?,
        clean: serde_json::to_string_pretty(&names)?,
    })
}

/// Dumps one collection, or one `_id` range of it, into chunks numbered from the collection's
/// shared counter; returns them and the documents read from the server.
#[allow(clippy::too_many_arguments)]
pub async fn dump_collection(
    source: &MongoSource,
    store: Arc<dyn Datastore>,
    dump: &str,
    plan: &TablePlan,
    filter: RowFilter,
    chunks: &ChunkSettings,
    range: Option<&ReadRange>,
    numbers: &Arc<AtomicUsize>,
) -> anyhow::Result<(Vec<ChunkManifest>, u64)> {
    let collection = plan.table.name.name.clone();
    let rules = plan
        .transformed()
        .map(|(path, rule)| {
            FieldPath::parse(path)
                .map(|p| (p, rule.implementation.clone()))
                .map_err(|e| anyhow::anyhow!("collection {}: {e}", plan.table.name))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rewriter = DocumentRewriter::new(rules);
    let worker = source.snapshot.worker();

    let (tx, rx) = mpsc::channel::<Vec<u8>>(BATCHES_IN_FLIGHT);
    let writer = {
        let dump = dump.to_string();
        let name = plan.table.name.clone();
        let filter = filter.clone();
        let settings = chunks.clone();
        let numbers = numbers.clone();
        tokio::task::spawn_blocking(move || {
            write_chunks(rx, &rewriter, &filter, store.as_ref(), &dump, &name, settings, &numbers)
        })
    };

    let mut batch = Vec::with_capacity(BATCH_BYTES + (64 << 10));
    let server_keys = match &filter {
        RowFilter::Keys(keys) => keys.server_keys(),
        _ => None,
    };
    let read: Result<bool, ConnectorError> = match server_keys {
        None => match range.map_or_else(|| Ok(bson::Document::new()), range_filter) {
            Ok(selection) => match worker.find(&collection, selection, None, None).await {
                Ok(docs) => forward(docs, &tx, &mut batch).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        Some(mut keys) => loop {
            let slice = keys.next_batch(KEYS_PER_QUERY);
            if slice.is_empty() {
                break Ok(true);
            }
            let docs = match worker.find_ids(&collection, &slice).await {
                Ok(docs) => docs,
                Err(e) => break Err(e),
            };
            match forward(docs, &tx, &mut batch).await {
                Ok(true) => continue,
                other => break other,
            }
        },
    };
    if let Ok(true) = read {
        if !batch.is_empty() {
            let _ = tx.send(std::mem::take(&mut batch)).await;
        }
        // An empty batch marks the end, as for SQL tables (see create::write_chunks).
        let _ = tx.send(Vec::new()).await;
    }
    drop(tx);
    let written = writer.await.context("the chunk writer thread panicked")?;
    read?;
    written
}

async fn forward(
    mut docs: connectors::mongodb::read::DocStream<'static>,
    tx: &mpsc::Sender<Vec<u8>>,
    batch: &mut Vec<u8>,
) -> Result<bool, ConnectorError> {
    while let Some(doc) = docs.next().await {
        batch.extend_from_slice(doc?.as_bytes());
        if batch.len() >= BATCH_BYTES {
            let full = std::mem::replace(batch, Vec::with_capacity(BATCH_BYTES + (64 << 10)));
            if tx.send(full).await.is_err() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Splits a batch of concatenated BSON documents.
pub fn documents(batch: &[u8]) -> impl Iterator<Item = Result<&[u8], String>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at >= batch.len() {
            return None;
        }
        let rest = &batch[at..];
        let len = match rest.get(..4) {
            Some(prefix) => i32::from_le_bytes(prefix.try_into().expect("four bytes")) as usize,
            None => return Some(Err("a document is cut short".to_string())),
        };
        if len < 5 || len > rest.len() {
            at = batch.len();
            return Some(Err(format!(
                "a document claims {len} bytes where {} remain",
                rest.len()
            )));
        }
        at += len;
        Some(Ok(&rest[..len]))
    })
}

#[allow(clippy::too_many_arguments)]
fn write_chunks(
    mut rx: mpsc::Receiver<Vec<u8>>,
    rewriter: &DocumentRewriter,
    filter: &RowFilter,
    store: &dyn Datastore,
    dump: &str,
    table: &connectors::QualifiedName,
    settings: ChunkSettings,
    numbers: &AtomicUsize,
) -> anyhow::Result<(Vec<ChunkManifest>, u64)> {
    let mut chunks = Vec::new();
    let mut read = 0u64;
    let mut current: Option<ChunkWriter> = None;
    let mut out: Vec<u8> = Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 4);
    let mut id_text: Vec<u8> = Vec::with_capacity(64);
    let mut complete = false;
    while let Some(batch) = rx.blocking_recv() {
        if batch.is_empty() {
            complete = true;
            break;
        }
        out.clear();
        let mut kept = 0u64;
        for doc in documents(&batch) {
            let doc = doc.map_err(|e| anyhow::anyhow!("collection {table}: {e}"))?;
            read += 1;
            if let RowFilter::Keys(keys) = filter {
                id_text.clear();
                let id = RawDocument::from_bytes(doc)
                    .ok()
                    .and_then(|d| d.get("_id").ok().flatten())
                    .and_then(|v| bson::Bson::try_from(v).ok());
                push_key_text(id.as_ref(), &mut id_text);
                let mut scratch = Vec::new();
                if !keys.keeps(&id_text, &mut scratch) {
                    continue;
                }
            }
            kept += 1;
            if rewriter.is_passthrough() {
                out.extend_from_slice(doc);
            } else {
                rewriter
                    .rewrite(doc, &mut out)
                    .map_err(|e| anyhow::anyhow!("collection {table}, {e}"))?;
            }
            // Documents can be large: the chunk rolls over at a document boundary once full.
            let open = current.as_ref().map_or(0, |w| w.raw_bytes());
            if open + out.len() as u64 >= settings.size {
                write_out(
                    &mut current,
                    numbers,
                    &mut out,
                    &mut kept,
                    store,
                    dump,
                    table,
                    &settings,
                )?;
                chunks.push(current.take().expect("a chunk is open").finish()?);
            }
        }
        if kept > 0 {
            write_out(
                &mut current,
                numbers,
                &mut out,
                &mut kept,
                store,
                dump,
                table,
                &settings,
            )?;
        }
    }
    if !complete {
        bail!("the dump of collection {table} stopped before the collection was complete");
    }
    if let Some(writer) = current {
        chunks.push(writer.finish()?);
    }
    Ok((chunks, read))
}

/// Appends the pending documents to the open chunk, opening one first if needed.
#[allow(clippy::too_many_arguments)]
fn write_out(
    current: &mut Option<ChunkWriter>,
    numbers: &AtomicUsize,
    out: &mut Vec<u8>,
    kept: &mut u64,
    store: &dyn Datastore,
    dump: &str,
    table: &connectors::QualifiedName,
    settings: &ChunkSettings,
) -> anyhow::Result<()> {
    if current.is_none() {
        let mut key = dump::chunk_key(dump, table, numbers.fetch_add(1, Ordering::Relaxed), "bson");
        if settings.sealer.is_some() {
            key.push_str(".age");
        }
        let path = key[dump.len() + 1..].to_string();
        *current = Some(
            ChunkWriter::create(store, &key, path, settings.level, settings.sealer.as_deref())
                .with_context(|| format!("cannot create chunk {key} in {}", store.describe()))?,
        );
    }
    let writer = current.as_mut().expect("a chunk is open");
    writer
        .write_rows(out, *kept)
        .with_context(|| format!("writing chunk {} of dump {dump} failed", writer.path()))?;
    out.clear();
    *kept = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_documents_split_back_and_damage_is_reported() {
        let mut batch = Vec::new();
        bson::doc! { "_id": 1, "a": "x" }.to_writer(&mut batch).unwrap();
        bson::doc! { "_id": 2 }.to_writer(&mut batch).unwrap();
        let docs: Vec<&[u8]> = documents(&batch).collect::<Result<_, _>>().unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            bson::Document::from_reader(&mut &docs[1][..]).unwrap(),
            bson::doc! { "_id": 2 }
        );
        let cut = &batch[..batch.len() - 3];
        assert!(documents(cut).any(|d| d.is_err()));
    }
}
