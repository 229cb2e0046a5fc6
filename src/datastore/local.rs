//! A folder on local disk. Objects are written to a temporary name and renamed on commit, so a
//! crash never leaves a truncated file under a final name.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Datastore, DumpEntry, DumpUsage, ObjectWriter};

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
        // Keys come from dump names and manifests: refuse anything that could escape the root.
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

    fn list_dumps(&self) -> std::io::Result<Vec<DumpEntry>> {
        let mut dumps = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            dumps.push(DumpEntry {
                complete: entry.path().join(crate::dump::MANIFEST).is_file(),
                name,
            });
        }
        Ok(dumps)
    }

    fn dump_usage(&self, name: &str) -> std::io::Result<DumpUsage> {
        let (stored_bytes, modified) = folder_size(&self.path(name)?)?;
        Ok(DumpUsage { stored_bytes, modified })
    }

    fn delete_dump(&self, name: &str) -> std::io::Result<()> {
        let path = self.path(name)?;
        // The manifest goes first: a delete interrupted halfway leaves an incomplete dump, never a
        // complete-looking one with missing chunks.
        match fs::remove_file(path.join(crate::dump::MANIFEST)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::remove_dir_all(path)
    }
}

fn folder_size(path: &Path) -> std::io::Result<(u64, Option<std::time::SystemTime>)> {
    let mut total = 0;
    let mut newest = None;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
            let modified = meta.modified().ok();
            if modified > newest {
                newest = modified;
            }
        }
    }
    Ok((total, newest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_objects_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        let mut writer = store.create("d1/data/t/00000.copy.zst").unwrap();
        writer.write_all(b"abc").unwrap();
        drop(writer);
        assert!(store.open("d1/data/t/00000.copy.zst").is_err());
        assert!(!dir.path().join("d1/data/t/00000.copy.zst.partial").exists());
        store.write_all("d1/manifest.json", b"{}").unwrap();
        assert_eq!(store.read_all("d1/manifest.json").unwrap(), b"{}");
        let dumps = store.list_dumps().unwrap();
        assert_eq!(dumps.len(), 1);
        assert!(dumps[0].complete);
        store.delete_dump("d1").unwrap();
        assert!(store.list_dumps().unwrap().is_empty());
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        assert!(store.open("../etc/passwd").is_err());
        assert!(store.create("a//b").is_err());
    }
}
