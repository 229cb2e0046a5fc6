//! Partial dumps to remove when a run fails or is interrupted.
//!
//! Removal waits until the async runtime has shut down, which is when every chunk-writer thread has
//! stopped: deleting earlier could race a writer that is still finishing a chunk and recreate part
//! of the folder.

use std::sync::{Arc, Mutex};

use crate::datastore::Datastore;

/// (registration id, datastore, dump name, the run id in its marker)
type Pending = (u64, Arc<dyn Datastore>, String, String);

static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A dump being written. Unless [`PartialDump::committed`] is called, it is removed at exit.
pub struct PartialDump {
    id: u64,
}

impl PartialDump {
    pub fn register(store: Arc<dyn Datastore>, name: &str, run_id: &str) -> PartialDump {
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PENDING
            .lock()
            .expect("cleanup registry")
            .push((id, store, name.to_string(), run_id.to_string()));
        PartialDump { id }
    }

    /// The manifest is written: the dump is complete and must stay.
    pub fn committed(self) {
        PENDING
            .lock()
            .expect("cleanup registry")
            .retain(|(id, _, _, _)| *id != self.id);
    }
}

/// Removes every registered dump that never committed, if it is still its run's. Call after the
/// runtime has shut down.
pub fn remove_partial_dumps() {
    let pending = std::mem::take(&mut *PENDING.lock().expect("cleanup registry"));
    for (_, store, name, run_id) in pending {
        match crate::dump::abandon(store.as_ref(), &name, &run_id) {
            Ok(()) => tracing::info!(dump = %name, "removed the partial dump"),
            Err(e) => tracing::warn!(
                dump = %name,
                error = %format!("{e:#}"),
                "could not remove the partial dump; `decoy dump delete --incomplete` removes it"
            ),
        }
    }
}
