//! Reading a database: one point in time where the server keeps snapshots, collections and their
//! definitions, documents streamed with cursors, and key scans for the subset planner.

use std::collections::{BTreeMap, HashMap};

use bson::{doc, Bson, Document, RawDocumentBuf};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use mongodb::{Client, Database};

use super::connect::{connect, describe_error, is_unsupported, MongoUrl};
use super::paths::{self, FieldPath};
use super::values::{kind_of, push_key_text, type_name};
use crate::postgres::{KeyExpr, KeyQuery};
use crate::range::span_ranges;
use crate::{Column, ConnectorError, QualifiedName, ReadRange, Schema, Table};

/// Documents read per cursor batch: large enough to keep the server busy, small in memory.
const BATCH_DOCS: u32 = 1000;
/// Documents sampled per collection to learn its field paths and their types.
pub const SAMPLE_DOCS: i64 = 1000;

pub type DocStream<'a> = BoxStream<'a, Result<RawDocumentBuf, ConnectorError>>;

/// A collection's definition as the dump stores it: options (validator, capped, collation, ...)
/// and indexes, in canonical extended JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CollectionSpec {
    pub name: String,
    /// `listCollections`' options; `None` when the server cannot list them.
    pub options: Option<serde_json::Value>,
    pub indexes: Vec<serde_json::Value>,
}

pub struct Snapshot {
    client: Client,
    url: MongoUrl,
    server_version: String,
    /// Every read happens at this cluster time, where the server keeps snapshots (replica sets and
    /// sharded clusters, MongoDB 5.0+).
    at_cluster_time: Option<bson::Timestamp>,
    /// Collections to dump when the config names them (`source.collections`).
    configured: Vec<String>,
}

impl Snapshot {
    pub async fn open(url: &MongoUrl, configured: &[String]) -> Result<Snapshot, ConnectorError> {
        let client = connect(url).await?;
        let db = client.database(url.database());
        let info = db
            .run_command(doc! { "buildInfo": 1 })
            .await
            .map_err(|e| describe_error("reading the server version", e))?;
        let server_version = info.get_str("version").unwrap_or("unknown").to_string();
        // A snapshot read returns the cluster time it read at; later reads ask for the same one.
        let probe = db
            .run_command(doc! {
                "find": "decoy_snapshot_probe",
                "filter": {},
                "limit": 1,
                "readConcern": { "level": "snapshot" },
            })
            .await;
        let at_cluster_time = match probe {
            Ok(reply) => reply
                .get_document("cursor")
                .ok()
                .and_then(|c| c.get_timestamp("atClusterTime").ok()),
            Err(e) => {
                tracing::debug!(error = %e, "snapshot reads refused");
                None
            }
        };
        if at_cluster_time.is_none() {
            tracing::warn!(
                "{url}: this MongoDB server offers no snapshot reads (a standalone server, or older than 5.0), so each \
                 collection is read as it is when its turn comes; run against a replica set member for one point in time"
            );
        }
        Ok(Snapshot {
            client,
            url: url.clone(),
            server_version,
            at_cluster_time,
            configured: configured.to_vec(),
        })
    }

    pub fn url(&self) -> &MongoUrl {
        &self.url
    }

    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    pub fn at_cluster_time(&self) -> Option<bson::Timestamp> {
        self.at_cluster_time
    }

    fn db(&self) -> Database {
        self.client.database(self.url.database())
    }

    pub fn worker(&self) -> Worker {
        Worker {
            db: self.db(),
            at_cluster_time: self.at_cluster_time,
        }
    }

    /// The collections to dump: `source.collections` when set, otherwise every collection
    /// `listCollections` reports (views and `system.*` left out).
    pub async fn collection_names(&self) -> Result<Vec<String>, ConnectorError> {
        if !self.configured.is_empty() {
            return Ok(self.configured.clone());
        }
        match self.list_collections().await? {
            Some(list) => Ok(list.into_iter().map(|(name, _)| name).collect()),
            None => Err(ConnectorError::Tool(format!(
                "{}: the server does not support listCollections, so decoy cannot find the collections itself; name \
                 them in the config under `source.collections: [users, orders, ...]`",
                self.url
            ))),
        }
    }

    /// Every collection with its options; `None` when the server cannot list them.
    async fn list_collections(&self) -> Result<Option<Vec<(String, Document)>>, ConnectorError> {
        let cursor = self
            .db()
            .run_cursor_command(doc! { "listCollections": 1, "filter": { "type": "collection" } })
            .await;
        let cursor = match cursor {
            Ok(cursor) => cursor,
            Err(e) if is_unsupported(&e) => return Ok(None),
            Err(e) => return Err(describe_error(format!("listing the collections of {}", self.url), e)),
        };
        let specs: Vec<Document> = cursor
            .try_collect()
            .await
            .map_err(|e| describe_error(format!("listing the collections of {}", self.url), e))?;
        let mut out: Vec<(String, Document)> = specs
            .into_iter()
            .filter_map(|spec| {
                let name = spec.get_str("name").ok()?.to_string();
                let options = spec.get_document("options").cloned().unwrap_or_default();
                (!name.starts_with("system.")).then_some((name, options))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(out))
    }

    /// Options and indexes of each collection, for the dump's schema files. Options need
    /// listCollections; a server without it (jongodb) gets `options: null` and a warning.
    pub async fn describe(&self, names: &[String]) -> Result<Vec<CollectionSpec>, ConnectorError> {
        let options: Option<HashMap<String, Document>> = match self.list_collections().await? {
            Some(list) => Some(list.into_iter().collect()),
            None => {
                tracing::warn!(
                    "collection options (validators, capped sizes, collations) are not dumped: the server does not \
                     support listCollections"
                );
                None
            }
        };
        let db = self.db();
        let mut specs = Vec::with_capacity(names.len());
        for name in names {
            let indexes: Vec<Document> = match db.run_cursor_command(doc! { "listIndexes": name }).await {
                Ok(cursor) => cursor
                    .try_collect()
                    .await
                    .map_err(|e| describe_error(format!("listing the indexes of collection {name}"), e))?,
                Err(e) => return Err(describe_error(format!("listing the indexes of collection {name}"), e)),
            };
            let indexes = indexes
                .into_iter()
                .filter(|i| i.get_str("name").ok() != Some("_id_"))
                .map(|mut i| {
                    // Where the index lived and its format version belong to the source server.
                    i.remove("ns");
                    i.remove("v");
                    Bson::Document(i).into_canonical_extjson()
                })
                .collect();
            specs.push(CollectionSpec {
                name: name.clone(),
                options: options
                    .as_ref()
                    .map(|o| Bson::Document(o.get(name).cloned().unwrap_or_default()).into_canonical_extjson()),
                indexes,
            });
        }
        Ok(specs)
    }

    /// Each collection as a table: `_id` is its primary key, every field path seen in a sample of
    /// its documents a column (typed by the BSON type seen most), and unique single-field indexes
    /// its unique columns. `extra` adds paths the config names that the sample did not show.
    pub async fn introspect(&self, extra: &HashMap<String, Vec<String>>) -> Result<Schema, ConnectorError> {
        let database = self.url.database().to_string();
        let names = self.collection_names().await?;
        let worker = self.worker();
        let mut tables = Vec::with_capacity(names.len());
        for name in &names {
            let (count, sample_bytes, types) = worker.sample_paths(name).await?;
            let unique = worker.unique_fields(name).await?;
            let mut columns: Vec<Column> = Vec::new();
            let mut push = |path: &str, type_name: &str| {
                if columns.iter().all(|c| c.name != path) {
                    columns.push(Column {
                        name: path.to_string(),
                        type_name: type_name.to_string(),
                        kind: kind_of(type_name),
                        nullable: path != "_id",
                        generated: false,
                    });
                }
            };
            push("_id", types.get("_id").map_or("objectId", |t| dominant(t)));
            for (path, seen) in &types {
                push(path, dominant(seen));
            }
            for path in extra.get(name).into_iter().flatten() {
                if FieldPath::parse(path).is_ok() && !types.contains_key(path) {
                    tracing::warn!(
                        collection = %name,
                        "field path `{path}` does not occur in the first {SAMPLE_DOCS} documents of {name}; its rule \
                         applies wherever it does occur"
                    );
                    push(path, "string");
                }
            }
            let mut unique_sets = vec![vec!["_id".to_string()]];
            unique_sets.extend(unique.into_iter().map(|f| vec![f]));
            tables.push(Table {
                name: QualifiedName::new(&database, name),
                columns,
                primary_key: vec!["_id".into()],
                unique: unique_sets,
                foreign_keys: Vec::new(),
                estimated_rows: count,
                estimated_bytes: if types.is_empty() {
                    0
                } else {
                    count.saturating_mul(sample_bytes)
                },
                partition_root: None,
            });
        }
        Ok(Schema {
            tables,
            partitioned: Vec::new(),
            default_schema: database,
        })
    }
}

/// The BSON type seen most often at a path (ties go to the first seen), nulls aside.
fn dominant(seen: &BTreeMap<&'static str, u64>) -> &'static str {
    seen.iter()
        .filter(|(t, _)| **t != "null")
        .max_by_key(|(_, n)| **n)
        .map(|(t, _)| *t)
        .unwrap_or("null")
}

/// One reader connection (the driver pools them) inside the snapshot.
pub struct Worker {
    db: Database,
    at_cluster_time: Option<bson::Timestamp>,
}

impl Worker {
    fn read_concern(&self) -> Option<Document> {
        self.at_cluster_time
            .map(|t| doc! { "level": "snapshot", "atClusterTime": Bson::Timestamp(t) })
    }

    /// Ranges of `_id` that cut `collection` into about `parts` pieces of the same width. `None`
    /// when its ids are neither all ObjectIds nor all integers (MongoDB orders `_id` by type
    /// first, so the smallest and largest being of one kind means every id is), or too few.
    pub async fn id_ranges(&self, collection: &str, parts: usize) -> Result<Option<Vec<ReadRange>>, ConnectorError> {
        let (Some(first), Some(last)) = (self.edge_id(collection, 1).await?, self.edge_id(collection, -1).await?)
        else {
            return Ok(None);
        };
        let ranges = match (&first, &last) {
            (Bson::ObjectId(a), Bson::ObjectId(b)) => {
                let number = |id: &bson::oid::ObjectId| {
                    let mut wide = [0u8; 16];
                    wide[4..].copy_from_slice(&id.bytes());
                    i128::from_be_bytes(wide)
                };
                let id = |n: i128| {
                    let mut bytes = [0u8; 12];
                    bytes.copy_from_slice(&n.to_be_bytes()[4..]);
                    Bson::ObjectId(bson::oid::ObjectId::from_bytes(bytes))
                };
                span_ranges(number(a), number(b), parts).map(|ranges| {
                    ranges
                        .into_iter()
                        .map(|(f, t)| (f.map(id), t.map(id)))
                        .collect::<Vec<_>>()
                })
            }
            (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) => {
                let int = |b: &Bson| match b {
                    Bson::Int32(n) => i128::from(*n),
                    Bson::Int64(n) => i128::from(*n),
                    _ => unreachable!("matched above"),
                };
                // Bounds of the ids' own type: some servers compare only like with like.
                let both_int32 = matches!((&first, &last), (Bson::Int32(_), Bson::Int32(_)));
                let id = |n: i128| {
                    if both_int32 {
                        Bson::Int32(n as i32)
                    } else {
                        Bson::Int64(n as i64)
                    }
                };
                span_ranges(int(&first), int(&last), parts).map(|ranges| {
                    ranges
                        .into_iter()
                        .map(|(f, t)| (f.map(id), t.map(id)))
                        .collect::<Vec<_>>()
                })
            }
            _ => None,
        };
        Ok(ranges.map(|ranges| {
            ranges
                .into_iter()
                .map(|(from, to)| ReadRange::Ids { from, to })
                .collect()
        }))
    }

    /// The smallest (`direction` 1) or largest (-1) `_id` of a collection.
    async fn edge_id(&self, collection: &str, direction: i32) -> Result<Option<Bson>, ConnectorError> {
        let mut docs = self
            .find(collection, Document::new(), Some(doc! { "_id": direction }), Some(1))
            .await?;
        let Some(doc) = docs.try_next().await? else {
            return Ok(None);
        };
        let id = doc.get("_id").map_err(|e| {
            ConnectorError::Tool(format!("collection {collection}: a document's _id is unreadable: {e}"))
        })?;
        Ok(id.and_then(|id| id.to_raw_bson().try_into().ok()))
    }

    /// Streams a collection's documents as raw BSON, without decoding them.
    pub async fn find(
        &self,
        collection: &str,
        filter: Document,
        sort: Option<Document>,
        limit: Option<u64>,
    ) -> Result<DocStream<'static>, ConnectorError> {
        let mut command = doc! { "find": collection, "filter": filter, "batchSize": BATCH_DOCS as i32 };
        if let Some(sort) = sort {
            command.insert("sort", sort);
        }
        if let Some(limit) = limit {
            command.insert("limit", limit as i64);
        }
        if let Some(concern) = self.read_concern() {
            command.insert("readConcern", concern);
        }
        let context = format!("reading collection {collection}");
        let cursor = self
            .db
            .run_cursor_command(command)
            .batch_size(BATCH_DOCS)
            .await
            .map_err(|e| snapshot_hint(describe_error(&context, e)))?;
        Ok(cursor
            .with_type::<RawDocumentBuf>()
            .map_err(move |e| snapshot_hint(describe_error(&context, e)))
            .boxed())
    }

    /// The documents whose `_id` is one of `ids`, in `_id` order.
    pub async fn find_ids(&self, collection: &str, ids: &[i64]) -> Result<DocStream<'static>, ConnectorError> {
        // int32 where it fits: servers compare numbers across types, but the test server does not.
        let ids: Vec<Bson> = ids
            .iter()
            .map(|&i| i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32))
            .collect();
        self.find(
            collection,
            doc! { "_id": { "$in": ids } },
            Some(doc! { "_id": 1 }),
            None,
        )
        .await
    }

    /// Document count (the collection's metadata, fast), the average document size in the sample,
    /// and the BSON types seen at each field path of the sample.
    async fn sample_paths(
        &self,
        collection: &str,
    ) -> Result<(i64, i64, BTreeMap<String, BTreeMap<&'static str, u64>>), ConnectorError> {
        let count = self
            .db
            .run_command(doc! { "count": collection })
            .await
            .map_err(|e| describe_error(format!("counting the documents of collection {collection}"), e))?;
        let count = match count.get("n") {
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Double(n)) => *n as i64,
            _ => 0,
        };
        let mut docs = self
            .find(collection, Document::new(), None, Some(SAMPLE_DOCS as u64))
            .await?;
        let mut types: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
        let (mut sampled, mut bytes) = (0i64, 0i64);
        while let Some(raw) = docs.next().await {
            let raw = raw?;
            sampled += 1;
            bytes += raw.as_bytes().len() as i64;
            let doc = Document::try_from(raw.as_ref()).map_err(|e| {
                ConnectorError::Tool(format!("a document of collection {collection} is not valid BSON: {e}"))
            })?;
            paths::leaves(&doc, &mut |path, value| {
                *types
                    .entry(path.to_string())
                    .or_default()
                    .entry(type_name(value))
                    .or_default() += 1;
            });
        }
        Ok((count, if sampled == 0 { 0 } else { bytes / sampled }, types))
    }

    /// Fields with a unique single-field index.
    async fn unique_fields(&self, collection: &str) -> Result<Vec<String>, ConnectorError> {
        let indexes: Vec<Document> = self
            .db
            .run_cursor_command(doc! { "listIndexes": collection })
            .await
            .map_err(|e| describe_error(format!("listing the indexes of collection {collection}"), e))?
            .try_collect()
            .await
            .map_err(|e| describe_error(format!("listing the indexes of collection {collection}"), e))?;
        Ok(indexes
            .iter()
            .filter(|i| i.get_bool("unique").unwrap_or(false) && i.get_str("name").ok() != Some("_id_"))
            .filter_map(|i| {
                let key = i.get_document("key").ok()?;
                (key.len() == 1).then(|| key.keys().next().cloned()).flatten()
            })
            .collect())
    }

    /// A key scan as tab-separated text rows, one per document, or one per combination when a path
    /// crosses an array (an order with three `items[].product_id` gives three rows).
    pub async fn copy_keys(
        &self,
        query: &KeyQuery<'_>,
    ) -> Result<BoxStream<'static, Result<Bytes, ConnectorError>>, ConnectorError> {
        let paths: Vec<FieldPath> = query
            .fields
            .iter()
            .map(|f| match f {
                KeyExpr::Column(c) | KeyExpr::Cast { column: c, .. } => FieldPath::parse(c),
                KeyExpr::JsonPath { column, path } => FieldPath::parse(&format!("{column}.{}", path.join("."))),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| ConnectorError::Tool(format!("collection {}: {e}", query.table)))?;
        let filter = filter_of(query.table, query.conditions)?;
        let sort = query.order_by.map(|o| sort_of(query.table, o)).transpose()?;
        let docs = self.find(&query.table.name, filter, sort, query.limit).await?;
        let table = query.table.to_string();
        Ok(docs
            .map(move |raw| {
                let raw = raw?;
                let doc = Document::try_from(raw.as_ref())
                    .map_err(|e| ConnectorError::Tool(format!("a document of {table} is not valid BSON: {e}")))?;
                let mut out = Vec::new();
                key_rows(&doc, &paths, &mut out);
                Ok(Bytes::from(out))
            })
            .boxed())
    }

    /// Up to `limit` documents as text rows of the given paths (the first value of each), for
    /// `decoy plan`'s look at kept fields and `decoy validate`.
    pub async fn sample_rows(
        &self,
        collection: &str,
        columns: &[&str],
        limit: usize,
    ) -> Result<Vec<u8>, ConnectorError> {
        let paths: Vec<Option<FieldPath>> = columns.iter().map(|c| FieldPath::parse(c).ok()).collect();
        let mut docs = self.find(collection, Document::new(), None, Some(limit as u64)).await?;
        let mut out = Vec::new();
        while let Some(raw) = docs.next().await {
            let doc = Document::try_from(raw?.as_ref())
                .map_err(|e| ConnectorError::Tool(format!("a document of {collection} is not valid BSON: {e}")))?;
            for (i, path) in paths.iter().enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                push_key_text(path.as_ref().and_then(|p| p.values(&doc).into_iter().next()), &mut out);
            }
            out.push(b'\n');
        }
        Ok(out)
    }
}

/// A key row per combination of the paths' values; a path with no value gives `\N`.
fn key_rows(doc: &Document, paths: &[FieldPath], out: &mut Vec<u8>) {
    let values: Vec<Vec<&Bson>> = paths.iter().map(|p| p.values(doc)).collect();
    let mut index = vec![0usize; paths.len()];
    loop {
        for (i, vals) in values.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            push_key_text(vals.get(index[i]).copied(), out);
        }
        out.push(b'\n');
        // Next combination, last path fastest.
        let mut i = paths.len();
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            index[i] += 1;
            if index[i] < values[i].len() {
                break;
            }
            index[i] = 0;
        }
    }
}

/// `where` conditions for a collection are query documents in JSON (`{"status": "active"}`), all
/// of which must hold.
/// The query filter that selects one range of `_id`s.
pub fn range_filter(range: &ReadRange) -> Result<Document, ConnectorError> {
    let ReadRange::Ids { from, to } = range else {
        return Err(ConnectorError::Tool(format!(
            "a collection cannot be read by {range}: it splits on _id"
        )));
    };
    let mut bounds = Document::new();
    if let Some(from) = from {
        bounds.insert("$gte", from.clone());
    }
    if let Some(to) = to {
        bounds.insert("$lt", to.clone());
    }
    Ok(if bounds.is_empty() {
        Document::new()
    } else {
        doc! { "_id": bounds }
    })
}

pub fn filter_of(collection: &QualifiedName, conditions: &[String]) -> Result<Document, ConnectorError> {
    let mut parts = Vec::with_capacity(conditions.len());
    for condition in conditions {
        let bad = |why: String| {
            ConnectorError::Tool(format!(
                "collection {collection}: the condition `{condition}` is not a MongoDB query document in JSON, like \
                 {{\"status\": \"active\", \"age\": {{\"$gte\": 18}}}}: {why}"
            ))
        };
        let json: serde_json::Value = serde_json::from_str(condition).map_err(|e| bad(e.to_string()))?;
        match Bson::try_from(json).map_err(|e| bad(e.to_string()))? {
            Bson::Document(d) => parts.push(Bson::Document(d)),
            _ => return Err(bad("it is not an object".into())),
        }
    }
    Ok(match parts.len() {
        0 => Document::new(),
        1 => match parts.pop() {
            Some(Bson::Document(d)) => d,
            _ => unreachable!("checked above"),
        },
        _ => doc! { "$and": parts },
    })
}

/// `order_by` for a collection: `field [asc|desc], ...` or a JSON sort document.
pub fn sort_of(collection: &QualifiedName, order_by: &str) -> Result<Document, ConnectorError> {
    let text = order_by.trim();
    if text.starts_with('{') {
        return filter_of(collection, &[text.to_string()]);
    }
    let mut sort = Document::new();
    for part in text.split(',') {
        let mut words = part.split_whitespace();
        let (Some(field), direction) = (words.next(), words.next()) else {
            continue;
        };
        let direction = match direction.map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => 1,
            Some("desc") => -1,
            Some(other) => {
                return Err(ConnectorError::Tool(format!(
                    "collection {collection}: `order_by: {order_by}`: `{other}` is not asc or desc"
                )))
            }
        };
        sort.insert(field, direction);
    }
    Ok(sort)
}

/// MongoDB forgets old snapshots after `minSnapshotHistoryWindowInSeconds` (300 by default).
fn snapshot_hint(error: ConnectorError) -> ConnectorError {
    let text = error.to_string();
    if text.contains("SnapshotTooOld") || text.contains("snapshot too old") {
        ConnectorError::Tool(format!(
            "{text}. The dump took longer than the server keeps its snapshot history: raise the server's \
             minSnapshotHistoryWindowInSeconds, or dump fewer collections per run"
        ))
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_paths_give_one_key_row_per_element() {
        let d = doc! { "_id": 7, "items": [ { "p": 1 }, { "p": 2 } ], "user": "u1" };
        let paths = vec![FieldPath::parse("_id").unwrap(), FieldPath::parse("items[].p").unwrap()];
        let mut out = Vec::new();
        key_rows(&d, &paths, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "7\t1\n7\t2\n");
        let mut out = Vec::new();
        key_rows(&d, &[FieldPath::parse("missing").unwrap()], &mut out);
        assert_eq!(out, b"\\N\n");
    }

    #[test]
    fn conditions_and_sorts_are_json_or_simple_lists() {
        let t = QualifiedName::new("db", "users");
        assert_eq!(
            filter_of(&t, &["{\"a\": 1}".into(), "{\"b\": {\"$gt\": 2}}".into()]).unwrap(),
            doc! { "$and": [ { "a": 1 }, { "b": { "$gt": 2 } } ] }
        );
        let err = filter_of(&t, &["status = 'x'".into()]).unwrap_err().to_string();
        assert!(err.contains("db.users") && err.contains("query document"), "{err}");
        assert_eq!(
            sort_of(&t, "created desc, _id").unwrap(),
            doc! { "created": -1, "_id": 1 }
        );
        assert!(sort_of(&t, "a sideways").is_err());
    }
}
