//! The one way a dump is written: claim the name atomically, keep a lease while writing, and
//! commit only after checking that every file the manifest lists is stored with its size. Every
//! kind of dump (live databases and dump files) goes through it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::marker::{self, Lease, Marker, LEASE, MARKER};
use super::{Manifest, MANIFEST};
use crate::cleanup::PartialDump;
use crate::crypto::{self, Sealer};
use crate::datastore::{Claim, Datastore};
use crate::error::ConfigError;

pub struct DumpWriter {
    store: Arc<dyn Datastore>,
    name: String,
    marker: Marker,
    partial: Option<PartialDump>,
    lease: Option<LeaseKeeper>,
}

impl DumpWriter {
    /// Claims `name` (or a new default name) in `store`: from here on the folder is this run's,
    /// and a failure or a signal removes it.
    pub fn claim(
        store: Arc<dyn Datastore>,
        name: Option<String>,
        created_at: DateTime<Utc>,
        lease: Duration,
    ) -> anyhow::Result<DumpWriter> {
        let name = name.unwrap_or_else(|| super::new_dump_name(created_at));
        ensure_free(store.as_ref(), &name)?;
        let marker = Marker::new(&name, created_at);
        let bytes = serde_json::to_vec_pretty(&marker)?;
        let claim = match store.claim_folder(&name, MARKER, &bytes) {
            Ok(claim) => claim,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Free a moment ago: a run that started at the same time took it, or a folder
                // appeared that decoy did not make.
                ensure_free(store.as_ref(), &name)?;
                anyhow::bail!(
                    "another run claimed the dump name `{name}` in {} at the same moment; this run wrote nothing \
                     (use a different --name, or leave it out for a unique default)",
                    store.describe()
                );
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot claim the dump name `{name}` in {}", store.describe()))
            }
        };
        if claim == Claim::Unconditional {
            tracing::info!(dump = %name, "the datastore has no conditional writes: the name was claimed by election");
        }
        let partial = PartialDump::register(store.clone(), &name, &marker.run_id);
        let lease = LeaseKeeper::start(store.clone(), &name, &marker.run_id, lease)?;
        Ok(DumpWriter {
            store,
            name,
            marker,
            partial: Some(partial),
            lease: Some(lease),
        })
    }

    /// Writes the manifest, the commit point, after checking that the name is still this run's
    /// and that every file it lists is stored with its size; checks again after, so that a dump
    /// whose files were deleted meanwhile is never left looking complete.
    pub fn commit(mut self, manifest: &Manifest, sealer: Option<&Sealer>) -> anyhow::Result<()> {
        let name = self.name.clone();
        self.check(manifest, false)?;
        let json = serde_json::to_vec_pretty(manifest)?;
        // The encrypted copy first: the plain manifest is the commit point.
        if let Some(sealer) = sealer {
            self.store
                .write_all(&format!("{name}/{}", crypto::MANIFEST_COPY), &sealer.seal_all(&json)?)
                .with_context(|| format!("writing the manifest of dump {name} failed"))?;
        }
        self.store
            .write_all(&format!("{name}/{MANIFEST}"), &json)
            .with_context(|| format!("writing the manifest of dump {name} failed"))?;
        if let Err(e) = self.check(manifest, true) {
            let _ = self.store.delete_files(&name, &[MANIFEST.to_string()]);
            return Err(e);
        }
        if let Some(lease) = self.lease.take() {
            lease.stop();
        }
        let _ = self.store.delete_files(&name, &[LEASE.to_string()]);
        if let Some(partial) = self.partial.take() {
            partial.committed();
        }
        Ok(())
    }

    fn check(&self, manifest: &Manifest, committed: bool) -> anyhow::Result<()> {
        let name = &self.name;
        let store = self.store.as_ref();
        let marker = Marker::read(store, name);
        if marker.as_ref().map(|m| &m.run_id) != Some(&self.marker.run_id) {
            anyhow::bail!(
                "dump {name} was deleted or taken over by another run while it was being written (its {MARKER} is \
                 gone or not this run's); this run's dump is not complete"
            );
        }
        let stored: HashMap<String, u64> = store
            .list_files(name)
            .with_context(|| format!("listing the files of dump {name} failed"))?
            .into_iter()
            .map(|f| (f.path, f.bytes))
            .collect();
        if !committed && stored.contains_key(MANIFEST) {
            anyhow::bail!("dump {name} already has a manifest written by another run; this run's dump is not complete");
        }
        let schema = &manifest.schema;
        let mut expected: Vec<(&str, u64)> = [&schema.pre_data, &schema.post_data, &schema.clean]
            .into_iter()
            .map(|f| (f.path.as_str(), f.bytes))
            .collect();
        for table in &manifest.tables {
            expected.extend(table.chunks.iter().map(|c| (c.path.as_str(), c.stored_bytes)));
        }
        let mut problems = Vec::new();
        for (path, bytes) in expected {
            match stored.get(path) {
                None => problems.push(format!("{path} is missing")),
                Some(&size) if size != bytes => problems.push(format!("{path} holds {size} bytes, not {bytes}")),
                Some(_) => {}
            }
        }
        let passphrase = manifest.encryption.as_ref().is_some_and(|e| e.mode == "passphrase");
        if passphrase && !stored.contains_key(crypto::KEY_FILE) {
            problems.push(format!("{} is missing", crypto::KEY_FILE));
        }
        if committed && !stored.contains_key(MANIFEST) {
            problems.push(format!("{MANIFEST} is missing"));
        }
        if !problems.is_empty() {
            let shown = problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
            anyhow::bail!(
                "dump {name} cannot be committed: {} of its files are not as written ({shown}){}; was it deleted \
                 while being written?",
                problems.len(),
                if problems.len() > 5 { "; ..." } else { "" }
            );
        }
        Ok(())
    }
}

impl Drop for DumpWriter {
    /// A run that did not commit gives its lease up, so that if its partial dump cannot be removed
    /// (the store is unreachable) the next `dump delete --incomplete` may remove it at once.
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.stop();
            let _ = write_lease(self.store.as_ref(), &self.name, &self.marker.run_id, Duration::ZERO);
        }
    }
}

/// Renews the dump's lease every quarter of its length on a thread of its own, so that a writer
/// busy for a long time on one table still holds it.
struct LeaseKeeper {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl LeaseKeeper {
    fn start(store: Arc<dyn Datastore>, name: &str, run_id: &str, length: Duration) -> anyhow::Result<LeaseKeeper> {
        write_lease(store.as_ref(), name, run_id, length)
            .with_context(|| format!("writing the lease of dump {name} failed"))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (name, run_id) = (name.to_string(), run_id.to_string());
        let thread = std::thread::Builder::new()
            .name("decoy-lease".into())
            .spawn(move || {
                let every = (length / 4).max(Duration::from_millis(200));
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    // Renew only while the folder is still this run's: a renewal must never
                    // recreate a dump that was deleted.
                    let ours = Marker::read(store.as_ref(), &name).is_some_and(|m| m.run_id == run_id);
                    if !ours {
                        tracing::warn!(dump = %name, "the dump's marker is gone or not this run's: lease no longer renewed");
                        return;
                    }
                    if let Err(e) = write_lease(store.as_ref(), &name, &run_id, length) {
                        tracing::warn!(dump = %name, error = %e, "renewing the dump's lease failed");
                    }
                }
            })
            .context("cannot start the lease thread")?;
        Ok(LeaseKeeper { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Checks that nothing is stored under `name` (one listing of that folder): a taken name is a
/// usage error, whether a dump or someone else's folder holds it.
pub fn ensure_free(store: &dyn Datastore, name: &str) -> anyhow::Result<()> {
    super::validate_name(name)?;
    let files = match store.list_files(name) {
        Ok(files) => files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // A file of that name (local disk): someone else's.
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => vec![crate::datastore::StoredFile {
            path: name.to_string(),
            bytes: 0,
            modified: None,
        }],
        Err(e) => return Err(e).with_context(|| format!("cannot look for `{name}` in {}", store.describe())),
    };
    if files.is_empty() {
        return Ok(());
    }
    let has = |file: &str| files.iter().any(|f| f.path == file);
    let is_dump =
        (has(MARKER) && Marker::read(store, name).is_some()) || (has(MANIFEST) && Manifest::load(store, name).is_ok());
    if is_dump {
        anyhow::bail!(ConfigError::new(format!(
            "a dump named `{name}` already exists in {}; choose another --name or delete it first",
            store.describe()
        )));
    }
    anyhow::bail!(ConfigError::new(format!(
        "`{name}` already exists in {} and is not a dump decoy made: decoy never writes into it; choose another \
         --name or another datastore path",
        store.describe()
    )))
}

fn write_lease(store: &dyn Datastore, name: &str, run_id: &str, length: Duration) -> std::io::Result<()> {
    let now = Utc::now();
    let lease = Lease {
        run_id: run_id.to_string(),
        renewed_at: now,
        expires_at: now + chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX),
    };
    store.write_all(&format!("{name}/{LEASE}"), &serde_json::to_vec_pretty(&lease)?)
}

/// Deletes a dump's own files: the manifest first (an interrupted delete leaves an incomplete dump,
/// never a complete-looking one with missing chunks), the marker last (so that what is left is
/// still recognised and `dump delete --incomplete` can finish). Files decoy does not write are
/// left where they are and returned.
pub fn delete(store: &dyn Datastore, name: &str) -> anyhow::Result<Vec<String>> {
    let files = store
        .list_files(name)
        .with_context(|| format!("listing the files of dump {name} failed"))?;
    let (ours, theirs): (Vec<String>, Vec<String>) =
        files.into_iter().map(|f| f.path).partition(|p| marker::is_dump_file(p));
    let first: Vec<String> = ours.iter().filter(|p| p.as_str() == MANIFEST).cloned().collect();
    let last: Vec<String> = ours.iter().filter(|p| p.as_str() == MARKER).cloned().collect();
    let middle: Vec<String> = ours
        .into_iter()
        .filter(|p| p.as_str() != MANIFEST && p.as_str() != MARKER)
        .collect();
    for group in [first, middle, last] {
        if !group.is_empty() {
            store
                .delete_files(name, &group)
                .with_context(|| format!("deleting dump {name} from {} failed", store.describe()))?;
        }
    }
    if !theirs.is_empty() {
        tracing::warn!(
            dump = %name,
            "{} file(s) in the dump's folder were not written by decoy and were left in place: {}",
            theirs.len(),
            theirs.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(theirs)
}

/// Removes what a run that did not commit left, if the folder is still that run's.
pub fn abandon(store: &dyn Datastore, name: &str, run_id: &str) -> anyhow::Result<()> {
    match Marker::read(store, name) {
        // Gone: the folder was deleted under the run (`--force`), which then recreated some of its
        // own files; nobody else can hold a folder without a marker.
        None => delete(store, name).map(|_| ()),
        Some(m) if m.run_id == run_id => delete(store, name).map(|_| ()),
        Some(_) => {
            tracing::warn!(dump = %name, "the partial dump is no longer this run's: left as it is");
            Ok(())
        }
    }
}
