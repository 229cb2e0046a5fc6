//! Test databases on the real MariaDB of this machine (started by scripts/services.sh), driven
//! with the `mariadb` client. Each test creates uniquely named databases and drops them.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `DECOY_TEST_MYSQL` overrides the server (the user must be able to create databases).
pub fn server() -> String {
    std::env::var("DECOY_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// (host, port, user) of [`server`], for the client.
fn client_args() -> Vec<String> {
    let url = server();
    let rest = url.split("://").nth(1).unwrap_or_default();
    let (user, host) = rest.split_once('@').unwrap_or(("root", rest));
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    vec![
        "-h".into(),
        host.into(),
        "-P".into(),
        port.trim_end_matches('/').into(),
        "-u".into(),
        user.into(),
    ]
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct MyDb {
    pub name: String,
}

impl MyDb {
    pub fn create(prefix: &str) -> MyDb {
        let name = format!(
            "decoy_t_{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run(
            None,
            &format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4"),
        );
        MyDb { name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// Runs SQL and returns the client's tab-separated output without headers.
    pub fn sql(&self, sql: &str) -> String {
        run(Some(&self.name), sql)
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql(sql)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{sql}: not a count ({e})"))
    }

    pub fn load(&self, file: &Path) {
        let out = Command::new("mariadb")
            .args(client_args())
            .arg(&self.name)
            .stdin(std::fs::File::open(file).unwrap())
            .output()
            .expect("the mariadb client runs");
        assert!(
            out.status.success(),
            "loading {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Base tables, sorted.
    pub fn tables(&self) -> Vec<String> {
        self.lines(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
            self.name
        ))
    }

    /// `CHECKSUM TABLE`: equal for two tables of one definition holding the same rows.
    pub fn checksum(&self, table: &str) -> String {
        let out = self.sql(&format!("CHECKSUM TABLE `{table}`"));
        out.split('\t').nth(1).unwrap_or_default().trim().to_string()
    }

    pub fn foreign_keys(&self) -> Vec<String> {
        self.lines(&format!(
            "SELECT CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME) FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = '{}' ORDER BY 1",
            self.name
        ))
    }

    pub fn lines(&self, sql: &str) -> Vec<String> {
        self.sql(sql).lines().map(str::to_string).collect()
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(client_args())
            .args(["-e", &format!("DROP DATABASE IF EXISTS `{}`", self.name)])
            .output();
    }
}

fn run(database: Option<&str>, sql: &str) -> String {
    let mut cmd = Command::new("mariadb");
    cmd.args(client_args()).args(["-N", "-B"]);
    if let Some(db) = database {
        cmd.arg(db);
    }
    let out = cmd.args(["-e", sql]).output().expect("the mariadb client runs");
    assert!(
        out.status.success(),
        "mariadb {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
