//! Shared helpers for tests against the real PostgreSQL on this machine (started by
//! scripts/services.sh). Each test creates its own uniquely named databases and drops them.

#![allow(dead_code)]

pub mod mongo;
pub mod mysql;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Server to test against; `DECOY_TEST_PG` overrides (user must be able to create databases).
pub fn server() -> String {
    std::env::var("DECOY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The decoy binary under test: the one cargo built, or `DECOY_TEST_BIN` (to run the tests against
/// another build, such as one from before a fix).
pub fn decoy_bin() -> PathBuf {
    std::env::var_os("DECOY_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_decoy")))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct TestDb {
    pub name: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub fn create(prefix: &str) -> TestDb {
        let name = format!(
            "decoy_t_{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        // UTF8 whatever the cluster default: the fixtures hold non-ASCII text.
        psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"),
        );
        TestDb { name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// Runs SQL and returns psql's unaligned, tuples-only output.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }

    pub fn load(&self, file: &Path, vars: &[(&str, &str)]) {
        let mut cmd = psql_command(&self.name);
        for (k, v) in vars {
            cmd.arg("-v").arg(format!("{k}={v}"));
        }
        let out = cmd.arg("-f").arg(file).output().expect("psql runs");
        assert!(
            out.status.success(),
            "loading {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every user table (partitioned parents included), qualified and quoted.
    pub fn tables(&self) -> Vec<String> {
        self.sql(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// A table's rows in COPY text format, sorted: equal output means equal data.
    pub fn rows(&self, table: &str) -> Vec<String> {
        let out = psql_command(&self.name)
            .arg("-c")
            .arg(format!("COPY (SELECT * FROM {table}) TO STDOUT"))
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut rows: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        rows.sort();
        rows
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql(sql)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a number from {sql}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = psql_command("postgres")
            .arg("-c")
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .output();
    }
}

fn psql_command(db: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.arg(format!("{}/{db}", server()))
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
    cmd
}

pub fn psql(db: &str, sql: &str) -> String {
    let out = psql_command(db).arg("-c").arg(sql).output().expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A scratch folder with a config file for one test.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn dumps(&self) -> PathBuf {
        self.dir.path().join("dumps")
    }

    /// Writes `decoy.yaml` with the given source URL and body appended (datastore under the workspace).
    pub fn config(&self, source_url: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join("decoy.yaml");
        let text = format!(
            "source:\n  url: {source_url}\ndatastore:\n  local:\n    path: {}\nsalt: test-salt-not-secret\n{body}",
            self.dumps().display()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn decoy(&self, args: &[&str]) -> Output {
        let out = Command::new(decoy_bin())
            .args(args)
            .current_dir(self.path())
            .env_remove("DECOY_SALT")
            .env("DECOY_CONFIG", self.path().join("decoy.yaml"))
            .output()
            .expect("decoy runs");
        out
    }

    /// Runs decoy and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_output(args).0
    }

    /// Runs decoy and asserts success, returning its log (stderr).
    pub fn ok_log(&self, args: &[&str]) -> String {
        self.ok_output(args).1
    }

    /// Runs decoy and asserts success, returning stdout and stderr.
    pub fn ok_output(&self, args: &[&str]) -> (String, String) {
        let out = self.decoy(args);
        assert!(
            out.status.success(),
            "decoy {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs decoy, asserts the exit code, and returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.decoy(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "decoy {args:?}: stdout {} stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// Starts `decoy dump create --name NAME` in the background and returns once at least `chunks`
    /// chunks of `table_folder` are stored, with the run still going (for kill and signal tests).
    pub fn start_dump(&self, name: &str, table_folder: &str, chunks: usize) -> std::process::Child {
        let mut child = Command::new(decoy_bin())
            .args(["dump", "create", "--name", name, "-c"])
            .arg(self.path().join("decoy.yaml"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("decoy starts");
        let folder = self.dumps().join(name).join("data").join(table_folder);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::fs::read_dir(&folder).map(|d| d.count()).unwrap_or(0) < chunks {
            assert!(
                std::time::Instant::now() < deadline,
                "no chunk appeared in {}",
                folder.display()
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the dump ended before it could be interrupted; grow the table"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child
    }

    /// What a run killed before its first chunk leaves: the dump's marker (created now, with a
    /// lease long expired) and nothing else.
    pub fn crashed_dump(&self, name: &str) {
        let folder = self.dumps().join(name);
        std::fs::create_dir_all(folder.join("data")).unwrap();
        let now = chrono_like_now();
        std::fs::write(
            folder.join("decoy-dump.json"),
            format!(
                r#"{{"format":"decoy-dump","format_version":1,"name":"{name}","run_id":"0123456789abcdef","created_at":"{now}","tool":"decoy","host":"test","pid":1}}"#
            ),
        )
        .unwrap();
        std::fs::write(
            folder.join("lease.json"),
            r#"{"run_id":"0123456789abcdef","renewed_at":"2000-01-01T00:00:00Z","expires_at":"2000-01-01T00:02:00Z"}"#,
        )
        .unwrap();
    }

    /// `dump list` as (name, status) pairs, newest first.
    pub fn statuses(&self) -> Vec<(String, String)> {
        self.list()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["dump", "list", "--json"])).unwrap()
    }
}

/// The current UTC time as RFC 3339, without a date crate.
pub fn chrono_like_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A dump's manifest.json in a workspace's local datastore.
pub fn manifest(ws: &Workspace, dump: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(ws.dumps().join(dump).join("manifest.json")).unwrap()).unwrap()
}

/// The chunk paths (relative to the dump) of the table named `name`.
pub fn chunk_paths(manifest: &serde_json::Value, name: &str) -> Vec<String> {
    let table = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in the manifest"));
    table["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect()
}
