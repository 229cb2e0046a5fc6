//! `decoy dump restore` into MongoDB: collections with their options, documents with insertMany
//! batches streamed straight from the chunks (collections in parallel), then the indexes.

use std::sync::Arc;

use anyhow::{bail, Context};
use bson::RawDocumentBuf;
use connectors::mongodb::read::CollectionSpec;
use connectors::mongodb::{self, write, MongoUrl};
use futures_util::{StreamExt, TryStreamExt};

use crate::datastore::Datastore;
use crate::dump::{ChunkManifest, Manifest, TableManifest};
use crate::restore::{chunks_stream, load_parts, Restored};
use crate::restore_marker as marker;

pub async fn to_database(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    url: &MongoUrl,
    clean: bool,
    workers: usize,
) -> anyhow::Result<Restored> {
    let client = mongodb::connect(url).await?;
    let db = client.database(url.database());
    let specs = collection_specs(store.as_ref(), manifest)?;
    let names: Vec<String> = manifest.tables.iter().map(|t| t.name.clone()).collect();

    match marker::mongo::read(&db).await? {
        Some(found) if !clean => return Err(marker::refusal(url, &marker::mongo::found(), &found)),
        Some(found) => marker::warn_if_other_dump(&found, &manifest.name),
        None => {}
    }
    let existing = write::existing(&db, &names).await?;
    if !clean && !existing.is_empty() {
        bail!(crate::error::ConfigError::new(format!(
            "{url} already has collections of this dump ({}); restore into an empty database, or pass --clean to drop \
             and recreate them",
            existing.join(", ")
        )));
    }
    // From here on the target changes: the marker goes first and comes off last.
    marker::mongo::write(&db, &manifest.name).await?;
    marker::set_marked(Some((&manifest.name, url)));
    if clean {
        for name in &names {
            write::drop_collection(&db, name).await?;
        }
    }
    for spec in &specs {
        write::create_collection(&db, spec).await?;
    }

    let phase = std::time::Instant::now();
    let rows = load_parts(
        manifest,
        workers,
        true,
        |table, chunks| load_collection(store.clone(), manifest, table, chunks, &db),
        |_| {},
    )
    .await?;
    tracing::info!(seconds = phase.elapsed().as_secs_f64(), "documents loaded");

    let phase = std::time::Instant::now();
    futures_util::stream::iter(specs.iter())
        .map(|spec| write::create_indexes(&db, spec))
        .buffer_unordered(workers)
        .try_collect::<Vec<()>>()
        .await
        .context("building the indexes (schema/indexes.json) failed")?;
    tracing::info!(seconds = phase.elapsed().as_secs_f64(), "indexes built");
    marker::mongo::remove(&db).await?;
    marker::set_marked(None);
    Ok(Restored {
        tables: manifest.tables.len(),
        rows,
    })
}

/// Each collection's options and indexes from the dump's two schema files.
fn collection_specs(store: &dyn Datastore, manifest: &Manifest) -> anyhow::Result<Vec<CollectionSpec>> {
    #[derive(serde::Deserialize)]
    struct Options {
        name: String,
        options: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct Indexes {
        name: String,
        indexes: Vec<serde_json::Value>,
    }
    let options: Vec<Options> = serde_json::from_str(&manifest.read_script(store, &manifest.schema.pre_data)?)
        .context("schema/collections.json of the dump is not valid")?;
    let indexes: Vec<Indexes> = serde_json::from_str(&manifest.read_script(store, &manifest.schema.post_data)?)
        .context("schema/indexes.json of the dump is not valid")?;
    Ok(options
        .into_iter()
        .map(|o| CollectionSpec {
            indexes: indexes
                .iter()
                .find(|i| i.name == o.name)
                .map(|i| i.indexes.clone())
                .unwrap_or_default(),
            name: o.name,
            options: o.options,
        })
        .collect())
}

/// Inserts some chunks of a collection.
async fn load_collection(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    table: &TableManifest,
    chunks: &[ChunkManifest],
    db: &::mongodb::Database,
) -> anyhow::Result<u64> {
    let (stream, reader) = chunks_stream(store, manifest, chunks.to_vec());
    futures_util::pin_mut!(stream);
    let mut pending: Vec<u8> = Vec::new();
    let mut batch: Vec<RawDocumentBuf> = Vec::with_capacity(write::BATCH_DOCS);
    let mut batch_bytes = 0usize;
    let mut rows = 0u64;
    let result: anyhow::Result<()> = async {
        while let Some(piece) = stream.next().await {
            pending.extend_from_slice(&piece?);
            let mut used = 0;
            while let Some(len) = next_document_len(&pending[used..]) {
                let doc = RawDocumentBuf::from_bytes(pending[used..used + len].to_vec())
                    .with_context(|| format!("a document of {} is damaged", table.name))?;
                used += len;
                batch_bytes += len;
                batch.push(doc);
                if batch.len() >= write::BATCH_DOCS || batch_bytes >= write::BATCH_BYTES {
                    rows += write::insert(db, &table.name, std::mem::take(&mut batch)).await?;
                    batch_bytes = 0;
                }
            }
            pending.drain(..used);
        }
        if !pending.is_empty() {
            bail!("the chunks of {} end in the middle of a document", table.name);
        }
        rows += write::insert(db, &table.name, std::mem::take(&mut batch)).await?;
        Ok(())
    }
    .await;
    reader.await.context("the chunk reader thread panicked")?;
    result?;
    // This part's chunks; load_parts checks the collection's total against the manifest.
    let expected: u64 = chunks.iter().map(|c| c.rows).sum();
    if rows != expected {
        bail!(
            "inserted {rows} documents into {} where its chunks hold {expected}",
            table.name
        );
    }
    Ok(rows)
}

/// The length of the complete document at the start of `bytes`, if it is all there.
fn next_document_len(bytes: &[u8]) -> Option<usize> {
    let len = i32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    (len >= 5 && len <= bytes.len()).then_some(len)
}
