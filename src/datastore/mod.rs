//! Where dumps live. Keys are `/`-separated paths relative to the datastore root, starting with the
//! dump's name (`20261128-124504-123-3fa9/data/public.users/000000.copy.zst`).
//!
//! A datastore knows folders and objects, not dumps: which folders are dumps, and which of their
//! files decoy wrote, is decided in `crate::dump` from the marker and the manifest. That keeps the
//! rule "decoy touches only what it made" in one place for every datastore.
//!
//! The API is synchronous: chunk writers and readers run on blocking worker threads next to the
//! compression code, so bytes never bounce through the async runtime.

mod local;
mod s3;

use std::io::{Read, Write};

pub use local::LocalDatastore;
pub use s3::S3Datastore;

use crate::config::DatastoreConfig;

/// A folder at the top of the datastore and what decoy looks for in it, before anything is read.
#[derive(Debug, Clone)]
pub struct FolderEntry {
    pub name: String,
    /// The dump marker (written first by every dump) is there.
    pub marker: bool,
    /// The manifest (written last, the commit point) is there.
    pub manifest: bool,
}

/// One object of a folder: its key relative to the folder, size and modification time.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub path: String,
    pub bytes: u64,
    pub modified: Option<std::time::SystemTime>,
}

/// How a dump's folder was claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Atomically: no other run can hold the same name (exclusive create on disk, a conditional
    /// write on S3).
    Exclusive,
    /// The store cannot create an object only if it is absent: a concurrent run may have written
    /// its own claim over ours, which the writer finds out by reading the claim back.
    Unconditional,
}

pub trait Datastore: Send + Sync {
    /// Where this datastore is, for messages (never with credentials).
    fn describe(&self) -> String;
    /// Starts writing an object; nothing is visible under `key` as complete until `commit`.
    fn create(&self, key: &str) -> std::io::Result<Box<dyn ObjectWriter>>;
    fn open(&self, key: &str) -> std::io::Result<Box<dyn Read + Send>>;
    /// Makes the folder `name` with its first object `marker` (a key inside the folder), failing
    /// with `AlreadyExists` when anything is already stored under that name: a run never writes
    /// into a folder it did not create.
    fn claim_folder(&self, name: &str, marker: &str, bytes: &[u8]) -> std::io::Result<Claim>;
    /// Every folder at the top of the datastore that holds a `marker` or a `manifest` file: cheap,
    /// for resolving names and `latest`. Other folders are not listed.
    fn list_folders(&self, marker: &str, manifest: &str) -> std::io::Result<Vec<FolderEntry>>;
    /// Every object under the folder `name`, at any depth.
    fn list_files(&self, name: &str) -> std::io::Result<Vec<StoredFile>>;
    /// Deletes these objects of the folder `name` (paths as `list_files` gives them), in order,
    /// then the folder itself if nothing else is left in it. Missing objects are not an error.
    fn delete_files(&self, name: &str, paths: &[String]) -> std::io::Result<()>;

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

/// Keys come from dump names and manifests: refuse anything that could escape the root.
fn check_key(key: &str) -> std::io::Result<()> {
    if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
        || key.contains('\\')
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid object key `{key}`"),
        ));
    }
    Ok(())
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
