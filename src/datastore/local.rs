//! A folder on local disk. Objects are written to a temporary name and renamed on commit, so a
//! crash never leaves a truncated file under a final name.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Claim, Datastore, FolderEntry, ObjectWriter, StoredFile};

pub struct LocalDatastore {
    root: PathBuf,
}

impl LocalDatastore {
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(root).with_context(|| {
            format!(
                "cannot create the local datastore folder {} (datastore.local.path)",
                root.display()
            )
        })?;
        Ok(LocalDatastore {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        super::check_key(key)?;
        Ok(self.root.join(key))
    }
}

struct LocalWriter {
    file: BufWriter<File>,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl ObjectWriter for LocalWriter {
    fn commit(mut self: Box<Self>) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl Datastore for LocalDatastore {
    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }

    fn create(&self, key: &str) -> std::io::Result<Box<dyn ObjectWriter>> {
        let target = self.path(key)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut temp = target.clone().into_os_string();
        temp.push(".partial");
        let temp = PathBuf::from(temp);
        let file = File::create(&temp)?;
        Ok(Box::new(LocalWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            temp,
            target,
            committed: false,
        }))
    }

    fn open(&self, key: &str) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.path(key)?)?))
    }

    fn claim_folder(&self, name: &str, marker: &str, bytes: &[u8]) -> std::io::Result<Claim> {
        let folder = self.path(name)?;
        let marker = self.path(&format!("{name}/{marker}"))?;
        // Both steps are atomic on a local filesystem: of two runs, one gets AlreadyExists. The
        // marker is written whole under a temporary name and hard-linked into place, which fails
        // if it exists, so it is never seen half-written either.
        fs::create_dir(&folder)?;
        let mut temp = marker.clone().into_os_string();
        temp.push(".partial");
        let temp = PathBuf::from(temp);
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        let linked = fs::hard_link(&temp, &marker);
        let _ = fs::remove_file(&temp);
        linked?;
        Ok(Claim::Exclusive)
    }

    fn list_folders(&self, marker: &str, manifest: &str) -> std::io::Result<Vec<FolderEntry>> {
        let mut folders = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let (marker, manifest) = (
                entry.path().join(marker).is_file(),
                entry.path().join(manifest).is_file(),
            );
            if marker || manifest {
                folders.push(FolderEntry { name, marker, manifest });
            }
        }
        Ok(folders)
    }

    fn list_files(&self, name: &str) -> std::io::Result<Vec<StoredFile>> {
        let folder = self.path(name)?;
        let mut files = Vec::new();
        let mut stack = vec![(folder, String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
                    // Not a name decoy writes: list it so that callers see the folder is not empty.
                    files.push(StoredFile {
                        path: format!("{prefix}{}", entry.file_name().to_string_lossy()),
                        bytes: 0,
                        modified: None,
                    });
                    continue;
                };
                let meta = entry.metadata()?;
                let path = format!("{prefix}{file_name}");
                if meta.is_dir() {
                    stack.push((entry.path(), format!("{path}/")));
                } else {
                    files.push(StoredFile {
                        path,
                        bytes: meta.len(),
                        modified: meta.modified().ok(),
                    });
                }
            }
        }
        Ok(files)
    }

    fn delete_files(&self, name: &str, paths: &[String]) -> std::io::Result<()> {
        for path in paths {
            match fs::remove_file(self.path(&format!("{name}/{path}"))?) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        remove_empty_folders(&self.path(name)?);
        Ok(())
    }
}

/// Removes `dir` and the folders below it that hold nothing (deepest first). `remove_dir` only
/// removes an empty folder, so whatever decoy did not write stays, with the folders that hold it.
fn remove_empty_folders(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_folders(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_objects_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        assert_eq!(store.claim_folder("d1", "m", b"x").unwrap(), Claim::Exclusive);
        let mut writer = store.create("d1/data/t/00000.copy.zst").unwrap();
        writer.write_all(b"abc").unwrap();
        drop(writer);
        assert!(store.open("d1/data/t/00000.copy.zst").is_err());
        assert!(!dir.path().join("d1/data/t/00000.copy.zst.partial").exists());
        store.write_all("d1/manifest.json", b"{}").unwrap();
        assert_eq!(store.read_all("d1/manifest.json").unwrap(), b"{}");
        let folders = store.list_folders("m", "manifest.json").unwrap();
        assert_eq!(folders.len(), 1);
        assert!(folders[0].marker && folders[0].manifest);
        let mut files: Vec<String> = store.list_files("d1").unwrap().into_iter().map(|f| f.path).collect();
        files.sort();
        assert_eq!(files, ["m", "manifest.json"]);
        store.delete_files("d1", &files).unwrap();
        assert!(!dir.path().join("d1").exists());
    }

    #[test]
    fn claims_are_exclusive_and_foreign_folders_unlisted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/main.rs"), "fn main() {}").unwrap();
        assert!(store.list_folders("m", "manifest.json").unwrap().is_empty());
        assert_eq!(
            store.claim_folder("src", "m", b"x").unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        store.claim_folder("d", "m", b"x").unwrap();
        assert_eq!(
            store.claim_folder("d", "m", b"y").unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        // A file decoy did not write keeps its folder.
        fs::write(dir.path().join("d/notes.txt"), "mine").unwrap();
        store.delete_files("d", &["m".to_string()]).unwrap();
        assert!(dir.path().join("d/notes.txt").is_file() && !dir.path().join("d/m").exists());
        assert!(dir.path().join("src/main.rs").is_file());
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        assert!(store.open("../etc/passwd").is_err());
        assert!(store.create("a//b").is_err());
    }
}
