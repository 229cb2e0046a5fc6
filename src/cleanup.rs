//! Partial dumps to remove when a run fails or is interrupted.
//!
//! Removal waits until the async runtime has shut down, which is when every chunk-writer thread has
//! stopped: deleting earlier could race a writer that is still finishing a chunk and recreate part
//! of the folder.

use std::sync::{Arc, Mutex};

use crate::datastore::Datastore;

/// (registration id, datastore, dump name)
type Pending = (u64, Arc<dyn Datastore>, String);

static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A dump being written. Unless [`PartialDump::committed`] is called, it is removed at exit.
pub struct PartialDump {
    id: u64,
}

impl PartialDump {
    pub fn register(store: Arc<dyn Datastore>, name: &str) -> PartialDump {
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PENDING
            .lock()
            .expect("cleanup registry")
            .push((id, store, name.to_string()));
        PartialDump { id }
    }

    /// The manifest is written: the dump is complete and must stay.
    pub fn committed(self) {
        PENDING
            .lock()
            .expect("cleanup registry")
            .retain(|(id, _, _)| *id != self.id);
    }
}

/// Removes every registered dump that never committed. Call after the runtime has shut down.
pub fn remove_partial_dumps() {
    let pending = std::mem::take(&mut *PENDING.lock().expect("cleanup registry"));
    for (_, store, name) in pending {
        match store.delete_dump(&name) {
            Ok(()) => tracing::info!(dump = %name, "removed the partial dump"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                dump = %name,
                error = %e,
                "could not remove the partial dump; `decoy dump delete --incomplete` removes it"
            ),
        }
    }
}
