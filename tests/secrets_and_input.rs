//! Secrets and bad input, against the real PostgreSQL, MariaDB and MongoDB-wire servers of this
//! machine: passwords written raw into URLs never show (output, logs, pg_dump's command line), a
//! blank salt is refused, a value larger than `dump.memory_limit` is named, and a closed stdout
//! ends a command quietly.
//!
//! `DECOY_TEST_BIN` runs these tests against another build of decoy (an older one, to see them
//! fail).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::mysql::MyDb;
use common::{psql, TestDb, Workspace};

fn bin() -> PathBuf {
    std::env::var_os("DECOY_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_decoy")))
}

/// decoy in the workspace, with its config, no salt from the environment, and `env` set.
fn command(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(ws.path())
        .env_remove("DECOY_SALT")
        .env_remove("DECOY_LOG")
        .env_remove("DECOY_LOG_FORMAT")
        .env_remove("DECOY_RESTORE_URL")
        .env("DECOY_CONFIG", ws.path().join("decoy.yaml"));
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

fn run(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(ws, args, env).output().expect("decoy runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_config(ws: &Workspace, body: &str) {
    std::fs::write(ws.path().join("decoy.yaml"), body).unwrap();
}

/// A password as generators make them, written into URLs as it is: `@`, `/`, `?`, `#` and `:`.
const PASSWORD: &str = "p@ss/w?rd#1:Zq";

/// The password, its distinctive pieces and its percent-encoded form: none may be printed.
const SECRETS: &[&str] = &[PASSWORD, "ss/w?rd", "rd#1:Zq", "#1:Zq", "p%40ss", "%2Fw%3Frd"];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
    }
}

/// `127.0.0.1:5432` of the PostgreSQL test server.
fn pg_host() -> String {
    let server = common::server();
    server
        .rsplit('@')
        .next()
        .unwrap()
        .trim_start_matches("postgres://")
        .to_string()
}

/// A login role with [`PASSWORD`], dropped at the end (after the databases it owns).
struct Role(String);

impl Role {
    fn create() -> Role {
        let name = format!("decoy_t_role_{}", std::process::id());
        psql("postgres", &format!("DROP ROLE IF EXISTS {name}"));
        psql(
            "postgres",
            &format!("CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'; GRANT pg_read_all_data TO {name}"),
        );
        Role(name)
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://{}:{PASSWORD}@{}/{database}", self.0, pg_host())
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(format!("{}/postgres", common::server()))
            .args(["-X", "-q", "-c", &format!("DROP ROLE IF EXISTS {}", self.0)])
            .output();
    }
}

/// The pg_dump decoy would run without `DECOY_PG_DUMP`.
fn real_pg_dump() -> PathBuf {
    connectors::postgres::newest_installed_pg_dump().unwrap_or_else(|| PathBuf::from("pg_dump"))
}

/// A `DECOY_PG_DUMP` that records its command line in `argv.log` (and, to prove the password
/// travels in the environment, `PGPASSWORD` in `env.log`), then runs the real pg_dump.
fn pg_dump_wrapper(dir: &Path) -> PathBuf {
    let wrapper = dir.join("pg_dump_wrapper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" --- >> '{argv}'\nprintf '%s\\n' \"${{PGPASSWORD-}}\" >> '{env}'\n\
             exec '{real}' \"$@\"\n",
            argv = dir.join("argv.log").display(),
            env = dir.join("env.log").display(),
            real = real_pg_dump().display()
        ),
    )
    .unwrap();
    make_executable(&wrapper);
    wrapper
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_raw_password_never_shows_in_output_logs_errors_or_pg_dump_arguments() {
    let role = Role::create();
    let source = TestDb::create("secret_src");
    source.sql(
        "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);\
         INSERT INTO users SELECT i, 'u' || i || '@x.example' FROM generate_series(1, 50) i;",
    );
    let target = TestDb::create("secret_dst");
    psql(
        "postgres",
        &format!("ALTER DATABASE {} OWNER TO {}", target.name, role.0),
    );
    let ws = Workspace::new();
    // The URL comes from the environment, as in production (`${DATABASE_URL}`).
    write_config(
        &ws,
        &format!(
            "source:\n  url: ${{SOURCE_URL}}\ndatastore:\n  local: {{ path: {} }}\nsalt: test-salt-not-secret\n\
             tables:\n  users:\n    columns:\n      email: email\n",
            ws.dumps().display()
        ),
    );
    let wrapper = pg_dump_wrapper(ws.path());
    let source_url = role.url(&source.name);
    let env = [
        ("SOURCE_URL", source_url.as_str()),
        ("DECOY_PG_DUMP", wrapper.to_str().unwrap()),
    ];
    let shown = format!("postgres://{}:***@{}/{}", role.0, pg_host(), source.name);

    let plan = run(&ws, &["plan"], &env);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(text(&plan).contains(&format!("source {shown}")), "{}", text(&plan));
    assert_no_secret("plan", &text(&plan));

    let validate = run(&ws, &["validate", "--rows", "2"], &env);
    assert!(validate.status.success(), "{}", text(&validate));
    assert_no_secret("validate", &text(&validate));

    for (name, format) in [("text-logs", "text"), ("json-logs", "json")] {
        let create = run(
            &ws,
            &["-v", "--log-format", format, "dump", "create", "--name", name],
            &env,
        );
        assert!(create.status.success(), "{}", text(&create));
        assert_no_secret(&format!("dump create --log-format {format}"), &text(&create));
    }

    // pg_dump got the password through PGPASSWORD, and the rest on its command line.
    let argv = std::fs::read_to_string(ws.path().join("argv.log")).unwrap();
    assert_eq!(
        argv.matches("\n---\n").count(),
        6,
        "three pg_dump runs per dump:\n{argv}"
    );
    assert!(
        argv.contains(&format!("user='{}'", role.0))
            && argv.contains(&format!("dbname='{}'", source.name))
            && argv.contains("--snapshot="),
        "{argv}"
    );
    assert_no_secret("pg_dump's command line", &argv);
    let passwords = std::fs::read_to_string(ws.path().join("env.log")).unwrap();
    assert!(
        passwords.lines().all(|p| p == PASSWORD) && passwords.lines().count() == 6,
        "{passwords:?}"
    );

    // A pg_dump that fails, and quotes its connection in its error as libpq does.
    let failing = ws.path().join("failing_pg_dump.sh");
    std::fs::write(
        &failing,
        "#!/bin/sh\necho \"pg_dump: error: connection failed: $*\" >&2\nexit 1\n",
    )
    .unwrap();
    make_executable(&failing);
    let failed = run(
        &ws,
        &["--log-format", "json", "dump", "create"],
        &[
            ("SOURCE_URL", source_url.as_str()),
            ("DECOY_PG_DUMP", failing.to_str().unwrap()),
        ],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        text(&failed).contains(&format!("pg_dump failed for {shown}")),
        "{}",
        text(&failed)
    );
    assert_no_secret("a failed pg_dump", &text(&failed));

    // Failures quote the URL: a database that does not exist, in text and JSON logs.
    let missing = role.url("decoy_no_such_database");
    for format in ["text", "json"] {
        let failed = run(
            &ws,
            &["--log-format", format, "dump", "create"],
            &[("SOURCE_URL", missing.as_str())],
        );
        assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
        assert!(
            text(&failed).contains(&format!(
                "postgres://{}:***@{}/decoy_no_such_database",
                role.0,
                pg_host()
            )),
            "{}",
            text(&failed)
        );
        assert_no_secret(&format!("a failed dump create ({format} logs)"), &text(&failed));
    }

    // The restore summary (which CI copies into job summaries) and a failed restore.
    let target_url = role.url(&target.name);
    let restore = run(&ws, &["dump", "restore", "json-logs", "--to", &target_url], &[]);
    assert!(restore.status.success(), "{}", text(&restore));
    let summary = String::from_utf8_lossy(&restore.stdout);
    assert!(
        summary.contains(&format!("into postgres://{}:***@{}/{}", role.0, pg_host(), target.name)),
        "{summary}"
    );
    assert_no_secret("dump restore", &text(&restore));
    assert_eq!(target.count("SELECT count(*) FROM users"), 50);
    let failed = run(
        &ws,
        &["--log-format", "json", "dump", "restore", "json-logs"],
        &[("DECOY_RESTORE_URL", missing.as_str())],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert_no_secret("a failed restore", &text(&failed));
}

#[test]
fn raw_passwords_in_mysql_and_mongodb_urls_never_show() {
    let db = MyDb::create("secret");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, email varchar(64))");
    let mysql_host = common::mysql::server().rsplit('@').next().unwrap().to_string();
    let mongo_host = std::env::var("DECOY_TEST_MONGO")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
        .trim_start_matches("mongodb://")
        .trim_end_matches('/')
        .to_string();
    let cases = [
        (
            format!("mysql://root:{PASSWORD}@{mysql_host}/{}", db.name),
            format!("mysql://root:***@{mysql_host}/{}", db.name),
        ),
        (
            format!("mariadb://root:{PASSWORD}@{mysql_host}/{}?require_ssl=false", db.name),
            format!("mariadb://root:***@{mysql_host}/{}", db.name),
        ),
        (
            format!(
                "mongodb://app:{PASSWORD}@{mongo_host}/decoy_t_secret?authSource=admin&serverSelectionTimeoutMS=3000"
            ),
            format!("mongodb://app:***@{mongo_host}/decoy_t_secret"),
        ),
    ];
    let ws = Workspace::new();
    for (url, shown) in cases {
        write_config(
            &ws,
            &format!(
                "source:\n  url: '{url}'\ndatastore:\n  local: {{ path: {} }}\nsalt: test-salt-not-secret\n",
                ws.dumps().display()
            ),
        );
        for args in [&["plan"][..], &["--log-format", "json", "dump", "create"][..]] {
            // The server refuses the password (root has none; the MongoDB-wire server no users):
            // the error quotes the URL.
            let out = run(&ws, args, &[]);
            assert!(!out.status.success(), "{}", text(&out));
            assert!(text(&out).contains(&shown), "{shown} in {}", text(&out));
            assert_no_secret(&format!("decoy {args:?} on {shown}"), &text(&out));
        }
    }
}

#[test]
fn a_blank_salt_is_refused_and_a_short_one_warned_about_without_echoing_either() {
    let db = TestDb::create("salt");
    db.sql("CREATE TABLE users (id int PRIMARY KEY, email text); INSERT INTO users VALUES (1, 'a@b.example');");
    let ws = Workspace::new();
    let config = |salt: &str| {
        write_config(
            &ws,
            &format!(
                "source:\n  url: {}\ndatastore:\n  local: {{ path: {} }}\n{salt}tables:\n  users:\n    columns:\n      \
                 email: email\n",
                db.url(),
                ws.dumps().display()
            ),
        )
    };
    for salt in ["salt: \"\"\n", "salt: \"   \"\n"] {
        config(salt);
        for args in [&["plan"][..], &["dump", "create"][..], &["validate"][..]] {
            let out = run(&ws, args, &[]);
            assert_eq!(out.status.code(), Some(2), "{salt}: {}", text(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("`salt`") && stderr.contains("blank"), "{stderr}");
        }
        // Commands that only read dumps need no salt, blank or not.
        let list = run(&ws, &["dump", "list"], &[]);
        assert!(list.status.success(), "{}", text(&list));
    }
    config("");
    let out = run(&ws, &["plan"], &[("DECOY_SALT", " \t ")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DECOY_SALT"),
        "{}",
        text(&out)
    );

    config("salt: Sh0rtSalt\n");
    let out = run(&ws, &["plan"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shorter than 16 characters") && !stderr.contains("Sh0rtSalt"),
        "{stderr}"
    );
    config("");
    let out = run(&ws, &["plan"], &[("DECOY_SALT", "Sh0rtSalt")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("DECOY_SALT") && !stderr.contains("Sh0rtSalt"),
        "{stderr}"
    );
}

/// Runs decoy to its end and returns its exit code, stderr and peak resident set size (from
/// wait4's rusage, so the peak includes the moments before it stopped).
// The child is reaped by wait4 itself, which std's `Child` cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut Command) -> (Option<i32>, String, u64) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("decoy runs");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 reaps our own child and fills both out-values.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, reader.join().unwrap(), usage.ru_maxrss as u64 * 1024)
}

const MIB: u64 = 1 << 20;

/// The smallest `dump.memory_limit` a one-worker dump to local disk accepts (the config error
/// names it): 64 MiB for the process and 15 MiB for the stream.
const MINIMUM_LIMIT: u64 = 79 * MIB;

#[test]
fn a_postgres_value_larger_than_the_memory_limit_is_named_and_stopped_early() {
    let source = TestDb::create("budget_value");
    source.sql(
        "CREATE TABLE huge (id int PRIMARY KEY, note varchar(20), body text);\
         INSERT INTO huge VALUES (1, 'small', repeat('x', 40000000)), (2, 'small', 'short');",
    );
    let ws = Workspace::new();
    let limit = MINIMUM_LIMIT + 21 * MIB;
    ws.config(
        &source.url(),
        &format!("dump:\n  workers: 1\n  memory_limit: {}MiB\n", limit / MIB),
    );
    let (code, stderr, peak) = run_measured(&mut command(&ws, &["dump", "create"], &[]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("table public.huge")
            && stderr.contains("column body")
            && stderr.contains("dump.memory_limit (100.0 MiB)")
            && stderr.contains("raise dump.memory_limit"),
        "{stderr}"
    );
    // The server sends the row whole: the driver may finish receiving the value once the run is
    // stopped, but nothing more.
    assert!(peak < limit + 40 * MIB, "peak {} MiB: {stderr}", peak >> 20);
    assert!(ws.list().is_empty(), "the partial dump is removed");

    // With room for the value and one copy, the same dump completes under its limit.
    let limit = 160 * MIB;
    ws.config(
        &source.url(),
        &format!("dump:\n  workers: 1\n  memory_limit: {}MiB\n", limit / MIB),
    );
    let (code, stderr, peak) = run_measured(&mut command(&ws, &["dump", "create"], &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        peak < limit,
        "peak {} MiB under a {} MiB limit",
        peak >> 20,
        limit >> 20
    );
}

#[test]
fn a_mariadb_value_larger_than_the_memory_limit_is_named() {
    let db = MyDb::create("budget_value");
    // The server's max_allowed_packet (16 MiB by default) caps a value it can send.
    db.sql(
        "CREATE TABLE huge (id int PRIMARY KEY, note varchar(20), body longtext);\
         INSERT INTO huge VALUES (1, 'small', REPEAT('x', 15000000)), (2, 'small', 'short');",
    );
    let ws = Workspace::new();
    let limit = MINIMUM_LIMIT + MIB;
    ws.config(
        &db.url(),
        &format!("dump:\n  workers: 1\n  memory_limit: {}MiB\n", limit / MIB),
    );
    let (code, stderr, peak) = run_measured(&mut command(&ws, &["dump", "create"], &[]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("table {}.huge", db.name))
            && stderr.contains("column body")
            && stderr.contains("dump.memory_limit (80.0 MiB)"),
        "{stderr}"
    );
    // The driver decodes the row and decoy turns it into text before the run can stop: up to
    // about two copies of the value more than on PostgreSQL.
    assert!(peak < limit + 45 * MIB, "peak {} MiB: {stderr}", peak >> 20);
    assert!(ws.list().is_empty(), "the partial dump is removed");

    let limit = 160 * MIB;
    ws.config(
        &db.url(),
        &format!("dump:\n  workers: 1\n  memory_limit: {}MiB\n", limit / MIB),
    );
    let (code, stderr, peak) = run_measured(&mut command(&ws, &["dump", "create"], &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        peak < limit,
        "peak {} MiB under a {} MiB limit",
        peak >> 20,
        limit >> 20
    );
}

/// Runs decoy with its stdout already closed by the reader, as `decoy ... | head -0` would.
fn with_closed_stdout(ws: &Workspace, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command(ws, args, &[])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("decoy runs")
}

/// Reads one line of decoy's stdout, then closes it, as `decoy ... | head -1` does.
fn reading_one_line(ws: &Workspace, args: &[&str]) -> (String, Output) {
    let mut child = command(ws, args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("decoy runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (line, child.wait_with_output().unwrap())
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let db = TestDb::create("pipe");
    db.sql(
        "CREATE TABLE users (id int PRIMARY KEY, email text);\
         INSERT INTO users SELECT i, 'u' || i || '@x.example' FROM generate_series(1, 20) i;",
    );
    let target = TestDb::create("pipe_dst");
    let ws = Workspace::new();
    ws.config(&db.url(), "tables:\n  users:\n    columns:\n      email: email\n");
    let quiet = |what: &str, out: &Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(0) && !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{what}: {}",
            text(out)
        );
    };
    ws.ok(&["dump", "create", "--name", "first"]);
    let key = ws.path().join("restore.key");
    let restore_to = target.url();
    let commands: Vec<Vec<&str>> = vec![
        vec!["transformer", "list"],
        vec!["transformer", "list", "--json"],
        vec!["plan"],
        vec!["validate"],
        vec!["dump", "create", "--name", "second"],
        vec!["dump", "create", "--json", "--name", "third"],
        vec!["dump", "list"],
        vec!["dump", "list", "--json"],
        vec!["dump", "verify", "first"],
        vec!["dump", "delete", "--keep-last", "1", "--dry-run"],
        vec!["dump", "restore", "first", "--to", &restore_to],
        vec!["keygen", "--output", key.to_str().unwrap()],
    ];
    for args in &commands {
        quiet(&format!("decoy {args:?} | head -0"), &with_closed_stdout(&ws, args));
    }
    // The dumps whose summary could not be printed are complete all the same.
    let listed = ws.list();
    let complete = |name: &str| listed.iter().any(|d| d["name"] == name && d["status"] == "complete");
    assert!(complete("second") && complete("third"), "{listed:?}");
    assert!(key.is_file());
    for args in [&["transformer", "list"][..], &["plan"][..]] {
        let (line, out) = reading_one_line(&ws, args);
        assert!(!line.is_empty(), "decoy {args:?} printed nothing");
        quiet(&format!("decoy {args:?} | head -1"), &out);
    }
}
