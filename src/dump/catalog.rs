//! The dumps of a datastore: which folders are dumps (a marker or a decoy manifest), whether each
//! is complete, incomplete or damaged, and their order by creation time. `latest`, `dump list` and
//! retention all read it from here, so they agree.

use chrono::{DateTime, Utc};

use super::marker::{Lease, Marker, LEASE, MARKER};
use super::{Manifest, MANIFEST};
use crate::datastore::Datastore;
use crate::error::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The manifest is there and reads as a decoy manifest.
    Complete,
    /// No manifest yet: being written, or its run failed or was killed.
    Incomplete,
    /// A manifest that cannot be read, or a marker that is not decoy's.
    Damaged,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Incomplete => "incomplete",
            Status::Damaged => "damaged",
        }
    }
}

pub struct DumpInfo {
    pub name: String,
    pub status: Status,
    /// The manifest's creation time, else the marker's.
    pub created_at: Option<DateTime<Utc>>,
    pub manifest: Option<Manifest>,
    pub marker: Option<Marker>,
    /// Why the dump is damaged.
    pub problem: Option<String>,
}

impl DumpInfo {
    /// The name the manifest was written under, when the folder has since been renamed or copied.
    pub fn written_as(&self) -> Option<&str> {
        self.manifest
            .as_ref()
            .and_then(|m| m.written_as.as_deref())
            .or_else(|| {
                self.marker
                    .as_ref()
                    .map(|m| m.name.as_str())
                    .filter(|n| *n != self.name)
            })
    }

    /// The lease of a dump being written, when its writer renewed it lately.
    pub fn live_lease(&self, store: &dyn Datastore, now: DateTime<Utc>) -> Option<Lease> {
        if self.status != Status::Incomplete {
            return None;
        }
        let bytes = store.read_all(&format!("{}/{LEASE}", self.name)).ok()?;
        serde_json::from_slice::<Lease>(&bytes).ok().filter(|l| l.live(now))
    }
}

/// Every dump, newest first (by creation time, then name). Folders that are neither marked nor
/// hold a decoy manifest are not dumps and are left out.
pub fn list(store: &dyn Datastore) -> anyhow::Result<Vec<DumpInfo>> {
    let mut dumps = Vec::new();
    for folder in store.list_folders(MARKER, MANIFEST)? {
        let marker = if folder.marker {
            store
                .read_all(&format!("{}/{MARKER}", folder.name))
                .ok()
                .map(|bytes| Marker::parse(&bytes))
        } else {
            None
        };
        let (manifest, manifest_error) = if folder.manifest {
            match Manifest::load(store, &folder.name) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            }
        } else {
            (None, None)
        };
        let info = match (marker, manifest, manifest_error) {
            // A folder with an unreadable manifest and no marker of ours is not known to be ours.
            (None, None, Some(_)) => continue,
            (_, Some(manifest), _) => DumpInfo {
                created_at: Some(manifest.created_at),
                status: Status::Complete,
                manifest: Some(manifest),
                marker: None,
                problem: None,
                name: folder.name,
            },
            (Some(Some(marker)), None, problem) => DumpInfo {
                created_at: Some(marker.created_at),
                status: if problem.is_some() {
                    Status::Damaged
                } else {
                    Status::Incomplete
                },
                manifest: None,
                marker: Some(marker),
                problem,
                name: folder.name,
            },
            // A marker that is not decoy's, and no manifest: someone else's folder.
            (Some(None), None, _) | (None, None, None) => continue,
        };
        dumps.push(info);
    }
    dumps.sort_by(|a, b| (b.created_at, &b.name).cmp(&(a.created_at, &a.name)));
    Ok(dumps)
}

/// Resolves `latest` (the newest complete dump by creation time) or checks that a named dump
/// exists and is complete. An unknown name is a usage error that lists the nearest names.
pub fn resolve(store: &dyn Datastore, name: &str) -> anyhow::Result<String> {
    let dumps = list(store)?;
    if name == "latest" {
        return match dumps.iter().find(|d| d.status == Status::Complete) {
            Some(d) => Ok(d.name.clone()),
            None => anyhow::bail!(
                "no complete dump in {}; create one with `decoy dump create`",
                store.describe()
            ),
        };
    }
    match dumps.iter().find(|d| d.name == name) {
        Some(d) => match d.status {
            Status::Complete => Ok(name.to_string()),
            Status::Incomplete => anyhow::bail!(
                "dump `{name}` is incomplete (it has no manifest: the run that wrote it failed or is still running); \
                 remove it with `decoy dump delete {name}`"
            ),
            Status::Damaged => anyhow::bail!(
                "dump `{name}` is damaged ({}); it cannot be used",
                d.problem.as_deref().unwrap_or("unreadable")
            ),
        },
        None => anyhow::bail!(unknown_dump(store, name, &dumps)),
    }
}

/// "no dump named X", with the nearest names (or the newest ones) to pick from.
pub fn unknown_dump(store: &dyn Datastore, name: &str, dumps: &[DumpInfo]) -> ConfigError {
    let mut near: Vec<(usize, &str)> = dumps
        .iter()
        .map(|d| (edit_distance(name, &d.name), d.name.as_str()))
        .filter(|(distance, other)| *distance <= (other.len().max(name.len()) / 3).max(2))
        .collect();
    near.sort();
    let mut names: Vec<&str> = near.iter().map(|(_, n)| *n).take(3).collect();
    let hint = if !names.is_empty() {
        "did you mean"
    } else {
        names = dumps.iter().map(|d| d.name.as_str()).take(3).collect();
        "the newest are"
    };
    let suggestion = if names.is_empty() {
        "; the datastore holds no dump".to_string()
    } else {
        format!(
            "; {hint} {}?",
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        )
    };
    ConfigError::new(format!(
        "no dump named `{name}` in {}{suggestion} (`decoy dump list` shows them all)",
        store.describe()
    ))
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(previous + usize::from(ca != *cb));
            previous = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("nightly", "nightly"), 0);
        assert_eq!(edit_distance("nigthly", "nightly"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
