//! Where dumps live. Keys are `/`-separated paths relative to the datastore root, starting with the
//! dump's name (`20261128-124504-123/data/public.users/00000.copy.zst`).
//!
//! The API is synchronous: chunk writers and readers run on blocking worker threads next to the
//! compression code, so bytes never bounce through the async runtime.

mod local;
mod s3;

use std::io::{Read, Write};

pub use local::LocalDatastore;
pub use s3::S3Datastore;

use crate::config::DatastoreConfig;

/// A dump folder as the datastore sees it, before its manifest is read.
#[derive(Debug, Clone)]
pub struct DumpEntry {
    pub name: String,
    /// The manifest is written last: without it the dump is incomplete and never restored.
    pub complete: bool,
}

/// What a dump occupies, for `dump list` (reading it visits every object of the dump).
#[derive(Debug, Clone)]
pub struct DumpUsage {
    pub stored_bytes: u64,
    /// When the dump was last written (for incomplete dumps, which have no manifest to tell).
    pub modified: Option<std::time::SystemTime>,
}

pub trait Datastore: Send + Sync {
    /// Where this datastore is, for messages (never with credentials).
    fn describe(&self) -> String;
    /// Starts writing an object; nothing is visible under `key` as complete until `commit`.
    fn create(&self, key: &str) -> std::io::Result<Box<dyn ObjectWriter>>;
    fn open(&self, key: &str) -> std::io::Result<Box<dyn Read + Send>>;
    /// Every dump folder with its completeness: cheap, for resolving names and `latest`.
    fn list_dumps(&self) -> std::io::Result<Vec<DumpEntry>>;
    fn dump_usage(&self, name: &str) -> std::io::Result<DumpUsage>;
    fn delete_dump(&self, name: &str) -> std::io::Result<()>;

    /// Memory one open writer holds (its buffers), for `dump.memory_limit`.
    fn writer_memory(&self) -> u64 {
        1 << 20
    }

    /// Memory one open reader holds, for `dump.memory_limit`.
    fn reader_memory(&self) -> u64 {
        1 << 20
    }

    fn read_all(&self, key: &str) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(key)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn write_all(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut writer = self.create(key)?;
        writer.write_all(bytes)?;
        writer.commit()
    }
}

pub trait ObjectWriter: Write + Send {
    /// Makes the object durable and visible. Dropping a writer without committing discards it.
    fn commit(self: Box<Self>) -> std::io::Result<()>;
}

pub fn open(config: &DatastoreConfig) -> anyhow::Result<Box<dyn Datastore>> {
    match (&config.local, &config.s3) {
        (Some(local), None) => Ok(Box::new(LocalDatastore::open(&local.path)?)),
        (None, Some(s3)) => Ok(Box::new(S3Datastore::open(s3)?)),
        _ => anyhow::bail!(crate::error::ConfigError::new(
            "configure exactly one datastore (datastore.local.path or datastore.s3.bucket)"
        )),
    }
}
