//! What makes a folder a dump: the marker every run writes first, the lease a running writer
//! renews, and the names of the files decoy writes (nothing else in a dump's folder is ever
//! deleted).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Written first, atomically, by the run that claims a dump's name.
pub const MARKER: &str = "decoy-dump.json";
/// Renewed by the run writing the dump, so that `dump delete --incomplete` can tell a dump being
/// written from one whose writer died.
pub const LEASE: &str = "lease.json";
/// Per-run claims on a store without conditional writes (`claim-<hex>.json`).
pub const CLAIM_PREFIX: &str = "claim-";
/// The marker's `format`: a folder whose marker says anything else is not a dump.
const MARKER_FORMAT: &str = "decoy-dump";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub format: String,
    /// The dump format the run writes ([`super::FORMAT_VERSION`]).
    pub format_version: u32,
    pub name: String,
    /// Random, one per run: tells two runs of the same name apart.
    pub run_id: String,
    pub created_at: DateTime<Utc>,
    pub tool: String,
    /// Where the writer runs, for messages about a dump being written (never a secret).
    pub host: String,
    pub pid: u32,
}

impl Marker {
    pub fn new(name: &str, created_at: DateTime<Utc>) -> Marker {
        Marker {
            format: MARKER_FORMAT.into(),
            format_version: super::FORMAT_VERSION,
            name: name.into(),
            run_id: random_hex(8),
            created_at,
            tool: format!("decoy {}", env!("CARGO_PKG_VERSION")),
            host: hostname(),
            pid: std::process::id(),
        }
    }

    /// The marker of a dump folder, or `None` when the bytes are not decoy's.
    pub fn parse(bytes: &[u8]) -> Option<Marker> {
        serde_json::from_slice::<Marker>(bytes)
            .ok()
            .filter(|m| m.format == MARKER_FORMAT)
    }

    /// The marker stored in the folder `name`, if there is one and it is decoy's.
    pub fn read(store: &dyn crate::datastore::Datastore, name: &str) -> Option<Marker> {
        store
            .read_all(&format!("{name}/{MARKER}"))
            .ok()
            .and_then(|bytes| Marker::parse(&bytes))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    pub run_id: String,
    pub renewed_at: DateTime<Utc>,
    /// Until then the dump counts as being written.
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// `n` random bytes as lowercase hex, from the operating system's generator.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).expect("the operating system's random number generator");
    hex::encode(bytes)
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// Whether a path inside a dump folder is one decoy writes: the marker, lease, claims, manifest
/// and its encrypted copy, the dump key, schema scripts and data chunks (and their `.partial`
/// temporary files). Deleting a dump deletes only these.
pub fn is_dump_file(path: &str) -> bool {
    let path = path.strip_suffix(".partial").unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [file] => {
            matches!(
                *file,
                MARKER | LEASE | super::MANIFEST | crate::crypto::MANIFEST_COPY | crate::crypto::KEY_FILE
            ) || file
                .strip_prefix(CLAIM_PREFIX)
                .and_then(|rest| rest.strip_suffix(".json"))
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        ["schema", file] => {
            let file = file.strip_suffix(".age").unwrap_or(file);
            matches!(
                file,
                "pre-data.sql" | "post-data.sql" | "clean.sql" | "collections.json" | "indexes.json" | "clean.json"
            )
        }
        ["data", _table, file] => {
            let file = file.strip_suffix(".age").unwrap_or(file);
            let Some((number, format)) = file.strip_suffix(".zst").and_then(|f| f.split_once('.')) else {
                return false;
            };
            !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
                && matches!(format, "copy" | "tsv" | "bson")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decoys_files_are_recognised() {
        for ours in [
            "decoy-dump.json",
            "lease.json",
            "lease.json.partial",
            "claim-0a1b2c.json",
            "manifest.json",
            "manifest.json.age",
            "key.age",
            "schema/pre-data.sql",
            "schema/clean.json.age",
            "data/public.users/000000.copy.zst",
            "data/public.users/000012.copy.zst.age",
            "data/shop.t/000001.tsv.zst.partial",
            "data/db.people/000000.bson.zst",
        ] {
            assert!(is_dump_file(ours), "{ours}");
        }
        for theirs in [
            "main.rs",
            "src/main.rs",
            ".git/config",
            "claim-.json",
            "claim-xyz.json",
            "schema/notes.sql",
            "data/public.users/readme.txt",
            "data/public.users/0001.csv.zst",
            "data/public.users/x/000000.copy.zst",
            "data/000000.copy.zst",
        ] {
            assert!(!is_dump_file(theirs), "{theirs}");
        }
    }

    #[test]
    fn markers_of_other_tools_are_not_decoys() {
        let marker = Marker::new("d", Utc::now());
        let bytes = serde_json::to_vec(&marker).unwrap();
        assert_eq!(Marker::parse(&bytes).unwrap().run_id, marker.run_id);
        assert_eq!(marker.run_id.len(), 16);
        assert!(Marker::parse(br#"{"format": "other"}"#).is_none());
        assert!(Marker::parse(b"not json").is_none());
    }
}
