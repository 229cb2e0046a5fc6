//! Test databases on the MongoDB-wire server that scripts/services.sh starts (jongodb, in memory:
//! it lacks listCollections and drop, so tests name their collections and use fresh databases).

use std::sync::atomic::{AtomicUsize, Ordering};

use bson::{doc, Document, RawDocumentBuf};
use futures_util::TryStreamExt;

/// `DECOY_TEST_MONGO` overrides the server.
pub fn server() -> String {
    std::env::var("DECOY_TEST_MONGO").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct MongoDb {
    pub name: String,
    runtime: tokio::runtime::Runtime,
    client: mongodb::Client,
}

impl MongoDb {
    pub fn create(prefix: &str) -> MongoDb {
        let name = format!(
            "decoy_t_{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(mongodb::Client::with_uri_str(format!(
                "{}/?directConnection=true",
                server()
            )))
            .expect("the MongoDB test server is reachable (scripts/services.sh mongo starts it)");
        MongoDb { name, runtime, client }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    fn db(&self) -> mongodb::Database {
        self.client.database(&self.name)
    }

    pub fn insert(&self, collection: &str, docs: Vec<Document>) {
        self.runtime
            .block_on(async { self.db().collection::<Document>(collection).insert_many(docs).await })
            .unwrap();
    }

    pub fn create_index(&self, collection: &str, keys: Document, unique: bool) {
        let name = keys.keys().cloned().collect::<Vec<_>>().join("_");
        self.runtime
            .block_on(async {
                self.db()
                    .run_command(doc! {
                        "createIndexes": collection,
                        "indexes": [ { "key": keys, "name": name, "unique": unique } ],
                    })
                    .await
            })
            .unwrap();
    }

    /// A collection's documents in `_id` order, decoded.
    pub fn documents(&self, collection: &str) -> Vec<Document> {
        self.sorted(collection)
    }

    /// A collection's documents in `_id` order as their BSON bytes: equal bytes mean equal types,
    /// values and field order.
    pub fn raw_documents(&self, collection: &str) -> Vec<Vec<u8>> {
        let docs: Vec<RawDocumentBuf> = self.sorted(collection);
        docs.into_iter().map(|d| d.into_bytes()).collect()
    }

    /// A collection's documents in `_id` order, read as `T`.
    fn sorted<T>(&self, collection: &str) -> Vec<T>
    where
        T: serde::de::DeserializeOwned + Send + Sync,
    {
        self.runtime.block_on(async {
            self.db()
                .collection::<T>(collection)
                .find(doc! {})
                .sort(doc! { "_id": 1 })
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap()
        })
    }

    /// Index names and keys of a collection, sorted.
    pub fn indexes(&self, collection: &str) -> Vec<String> {
        let mut out: Vec<String> = self.runtime.block_on(async {
            let docs: Vec<Document> = self
                .db()
                .run_cursor_command(doc! { "listIndexes": collection })
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            docs.iter()
                .map(|i| {
                    format!(
                        "{} {} unique={}",
                        i.get_str("name").unwrap_or_default(),
                        i.get_document("key").map(|k| k.to_string()).unwrap_or_default(),
                        i.get_bool("unique").unwrap_or(false)
                    )
                })
                .collect()
        });
        out.sort();
        out
    }
}

impl Drop for MongoDb {
    fn drop(&mut self) {
        // Real servers drop it; jongodb keeps it in memory until it stops.
        let _ = self.runtime.block_on(async { self.db().drop().await });
    }
}
