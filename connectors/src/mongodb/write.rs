//! Restoring into MongoDB: collections with their options, documents with unordered insertMany
//! batches, then the indexes.

use bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::Database;

use super::connect::{describe_error, is_unsupported};
use super::read::CollectionSpec;
use crate::ConnectorError;

/// A batch sent in one insertMany: the server's own limits are 100,000 documents and 48 MB.
pub const BATCH_DOCS: usize = 1000;
pub const BATCH_BYTES: usize = 8 << 20;

/// Which of `names` already hold documents (or exist, where the server can list collections).
pub async fn existing(db: &Database, names: &[String]) -> Result<Vec<String>, ConnectorError> {
    match db.list_collection_names().await {
        Ok(all) => Ok(names.iter().filter(|n| all.contains(n)).cloned().collect()),
        Err(e) if is_unsupported(&e) => {
            // Without listCollections (jongodb), a collection with documents is what counts.
            let mut found = Vec::new();
            for name in names {
                let reply = db
                    .run_command(doc! { "count": name })
                    .await
                    .map_err(|e| describe_error(format!("counting the documents of {name}"), e))?;
                let n = match reply.get("n") {
                    Some(Bson::Int32(n)) => i64::from(*n),
                    Some(Bson::Int64(n)) => *n,
                    _ => 0,
                };
                if n > 0 {
                    found.push(name.clone());
                }
            }
            Ok(found)
        }
        Err(e) => Err(describe_error("listing the collections of the target", e)),
    }
}

pub async fn drop_collection(db: &Database, name: &str) -> Result<(), ConnectorError> {
    match db.run_command(doc! { "drop": name }).await {
        Ok(_) => Ok(()),
        Err(e) if is_unsupported(&e) => Err(ConnectorError::Tool(format!(
            "the target server does not support the drop command, so --clean cannot remove collection {name}; restore \
             into a new database instead"
        ))),
        // Dropping what is not there is fine.
        Err(e) if super::connect::error_code_name(&e) == Some("NamespaceNotFound") => Ok(()),
        Err(e) => Err(describe_error(format!("dropping collection {name}"), e)),
    }
}

/// Creates a collection with its dumped options. Without options, the first insert creates it.
pub async fn create_collection(db: &Database, spec: &CollectionSpec) -> Result<(), ConnectorError> {
    let options = match &spec.options {
        Some(json) => to_document(json).map_err(|e| {
            ConnectorError::Tool(format!(
                "the dumped options of collection {} are not valid: {e}",
                spec.name
            ))
        })?,
        None => return Ok(()),
    };
    if options.is_empty() {
        return Ok(());
    }
    let mut command = doc! { "create": &spec.name };
    for (k, v) in options {
        command.insert(k, v);
    }
    match db.run_command(command).await {
        Ok(_) => Ok(()),
        Err(e) if is_unsupported(&e) => Err(ConnectorError::Tool(format!(
            "collection {} has options (validator, capped size, collation, ...) and the target server does not \
             support the create command that restores them",
            spec.name
        ))),
        Err(e) => Err(describe_error(format!("creating collection {}", spec.name), e)),
    }
}

/// Inserts one batch without stopping at the first failure, so one bad document does not hide the
/// others; any failure fails the batch.
pub async fn insert(db: &Database, collection: &str, docs: Vec<RawDocumentBuf>) -> Result<u64, ConnectorError> {
    let n = docs.len() as u64;
    if n == 0 {
        return Ok(0);
    }
    db.collection::<RawDocumentBuf>(collection)
        .insert_many(docs)
        .ordered(false)
        .await
        .map_err(|e| describe_error(format!("inserting into collection {collection}"), e))?;
    Ok(n)
}

/// Builds a collection's indexes after its documents are in.
pub async fn create_indexes(db: &Database, spec: &CollectionSpec) -> Result<(), ConnectorError> {
    if spec.indexes.is_empty() {
        return Ok(());
    }
    let indexes = spec
        .indexes
        .iter()
        .map(|i| to_document(i).map(Bson::Document))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConnectorError::Tool(format!(
                "the dumped indexes of collection {} are not valid: {e}",
                spec.name
            ))
        })?;
    db.run_command(doc! { "createIndexes": &spec.name, "indexes": indexes })
        .await
        .map_err(|e| describe_error(format!("building the indexes of collection {}", spec.name), e))?;
    Ok(())
}

fn to_document(json: &serde_json::Value) -> Result<Document, String> {
    match Bson::try_from(json.clone()).map_err(|e| e.to_string())? {
        Bson::Document(d) => Ok(d),
        _ => Err("not an object".into()),
    }
}
