//! What users get when something is wrong: a clear message, the right exit code, and never a dump
//! that looks complete when it is not.

mod common;

use common::{TestDb, Workspace};

fn small_db() -> TestDb {
    let db = TestDb::create("fail");
    db.sql(
        "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE NOT NULL, name text, nick varchar(3));\
         CREATE TABLE notes (id int PRIMARY KEY, user_id int REFERENCES users(id), body text);\
         INSERT INTO users SELECT i, 'u' || i || '@x.example', 'name ' || i, 'n' || (i % 10) FROM generate_series(1, 100) i;\
         INSERT INTO notes SELECT i, i, 'note' FROM generate_series(1, 100) i;",
    );
    db
}

#[test]
fn config_mistakes_exit_2_and_name_the_key_and_line() {
    let db = small_db();
    let ws = Workspace::new();
    let cases = [
        (
            "tables:\n  public.usrs:\n    columns:\n      email: email\n",
            vec!["line 8", "public.usrs", "public.users"],
        ),
        (
            "tables:\n  users:\n    columns:\n      mail: email\n",
            vec!["line 10", "no column `mail`", "email"],
        ),
        (
            "tables:\n  users:\n    columns:\n      email: emale\n",
            vec!["line 10", "unknown transformer `emale`", "transformer list"],
        ),
        (
            "tables:\n  users:\n    columns:\n      email: { transformer: email, keep_domian: true }\n",
            vec!["line 10", "keep_domian"],
        ),
        (
            "tables:\n  users:\n    columns:\n      email: constant\n",
            vec!["tables.users.columns.email"],
        ),
        (
            "tables:\n  users: skip\n",
            vec!["notes_user_id_fkey", "public.users", "skipped"],
        ),
        ("only: [public.notes]\n", vec!["outside `only`"]),
        ("only: [public.nothing*]\n", vec!["`only`", "matches no table"]),
        (
            "strict: true\ntables:\n  users:\n    columns:\n      email: email\n",
            vec!["public.users.name", "public.notes.body"],
        ),
        (
            "tables:\n  notes:\n    columns:\n      user_id: keep\n  users:\n    columns:\n      id: random\n",
            vec!["references public.users.id", "Remove this rule"],
        ),
        ("dump:\n  chunk_size: 12 parsecs\n", vec!["line 8", "parsecs"]),
    ];
    for (body, expected) in cases {
        ws.config(&db.url(), body);
        let err = ws.fails(&["dump", "create"], 2);
        for needle in expected {
            assert!(err.contains(needle), "config {body:?}: `{needle}` missing from:\n{err}");
        }
        let written = std::fs::read_dir(ws.dumps()).map(|d| d.count()).unwrap_or(0);
        assert_eq!(written, 0, "nothing may be written for {body:?}");
    }
}

#[test]
fn connection_failures_say_where_and_hide_the_password() {
    let ws = Workspace::new();
    let cases = [
        ("postgres://postgres:hunter2@127.0.0.1:1/app", "127.0.0.1:1"),
        ("postgres://nobody:hunter2@127.0.0.1:5432/postgres", "nobody"),
        (
            "postgres://postgres:hunter2@127.0.0.1:5432/no_such_database_here",
            "no_such_database_here",
        ),
    ];
    for (url, needle) in cases {
        ws.config(url, "");
        let err = ws.fails(&["dump", "create"], 1);
        assert!(err.contains("cannot connect") && err.contains(needle), "{url}: {err}");
        assert!(!err.contains("hunter2"), "password leaked: {err}");
    }
    ws.config("sqlite:///tmp/x.db", "");
    let err = ws.fails(&["dump", "create"], 2);
    assert!(
        err.contains("sqlite://") && err.contains("mysql://") && err.contains("postgres://"),
        "{err}"
    );
    ws.config("mysql://root:hunter2@127.0.0.1/decoy_no_such_database", "");
    let err = ws.fails(&["dump", "create"], 1);
    assert!(
        err.contains("cannot connect") && err.contains("Access denied") && !err.contains("hunter2"),
        "{err}"
    );
    let err = ws.fails(
        &["dump", "restore", "--to", "postgres://postgres:hunter2@127.0.0.1:1/x"],
        1,
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn missing_config_and_missing_dumps_are_explained() {
    let ws = Workspace::new();
    let err = ws.fails(&["dump", "list", "-c", "nope.yaml"], 2);
    assert!(err.contains("nope.yaml"), "{err}");
    ws.config("postgres://postgres@127.0.0.1:5432/postgres", "");
    let err = ws.fails(&["dump", "restore", "--to", "postgres://postgres@127.0.0.1/x"], 1);
    assert!(err.contains("no complete dump"), "{err}");
    let err = ws.fails(&["dump", "verify", "ghost"], 2);
    assert!(err.contains("no dump named `ghost`"), "{err}");
    let err = ws.fails(&["dump", "restore"], 2);
    assert!(err.contains("--to") || err.contains("--output"), "{err}");
    let err = ws.fails(&["dump", "create", "--name", "../evil"], 2);
    assert!(err.contains("invalid dump name"), "{err}");
}

#[test]
fn a_killed_dump_is_incomplete_and_never_restored() {
    let db = TestDb::create("killed");
    // Enough rows that the dump is still running when it is killed.
    db.sql(
        "CREATE TABLE big (id int PRIMARY KEY, email text, payload text);\
         INSERT INTO big SELECT i, 'u' || i || '@x.example', repeat(md5(i::text), 8) FROM generate_series(1, 1500000) i;",
    );
    let ws = Workspace::new();
    ws.config(
        &db.url(),
        "tables:\n  big:\n    columns:\n      email: email\ndump:\n  chunk_size: 1MiB\n",
    );
    let mut child = ws.start_dump("victim", "public.big", 3);
    child.kill().unwrap(); // SIGKILL: no cleanup can run
    child.wait().unwrap();

    let list = ws.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "victim");
    assert_eq!(list[0]["status"], "incomplete");
    let target = TestDb::create("killed_copy");
    let err = ws.fails(&["dump", "restore", "latest", "--to", &target.url()], 1);
    assert!(err.contains("no complete dump"), "{err}");
    let err = ws.fails(&["dump", "restore", "victim", "--to", &target.url()], 1);
    assert!(err.contains("incomplete"), "{err}");
    // Its lease has not run out yet (tests/datastore_safety.rs waits for that): --force.
    assert!(ws.ok(&["dump", "delete", "--incomplete"]).contains("kept victim"));
    ws.ok(&["dump", "delete", "--incomplete", "--force"]);
    assert!(ws.list().is_empty());
}

#[test]
fn sigterm_stops_the_dump_and_removes_the_partial_dump() {
    let db = TestDb::create("term");
    db.sql(
        "CREATE TABLE big (id int PRIMARY KEY, payload text);\
         INSERT INTO big SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 1500000) i;",
    );
    let ws = Workspace::new();
    ws.config(&db.url(), "dump:\n  chunk_size: 1MiB\n");
    let child = ws.start_dump("stopped", "public.big", 2);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGTERM"));
    assert!(ws.list().is_empty(), "the partial dump is removed: {:?}", ws.list());
}

#[test]
fn a_datastore_that_cannot_be_written_fails_without_a_complete_dump() {
    let db = small_db();
    let ws = Workspace::new();
    // The datastore path is an existing file: nothing can be created under it.
    std::fs::write(ws.path().join("dumps"), b"not a folder").unwrap();
    ws.config(&db.url(), "");
    let err = ws.fails(&["dump", "create"], 1);
    assert!(err.contains("datastore") && err.contains("dumps"), "{err}");
}

#[test]
fn help_never_shows_a_password_from_the_environment() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_decoy"))
        .args(["dump", "restore", "--help"])
        .env("DECOY_RESTORE_URL", "postgres://app:hunter2@db/app")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("DECOY_RESTORE_URL") && !help.contains("hunter2"),
        "{help}"
    );
}

#[test]
fn a_config_mistake_that_quotes_a_url_does_not_print_its_password() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path().join("decoy.yaml"),
        "source: postgres://app:topsecret@127.0.0.1/app\ndatastore:\n  local: { path: dumps }\n",
    )
    .unwrap();
    let err = ws.fails(&["dump", "create"], 2);
    assert!(
        err.contains("`source`") && err.contains("app:***@127.0.0.1") && !err.contains("topsecret"),
        "{err}"
    );
}

#[test]
fn a_full_disk_fails_the_dump_and_leaves_nothing_that_looks_complete() {
    use std::os::unix::process::CommandExt;
    let db = TestDb::create("full");
    db.sql(
        "CREATE TABLE big (id int PRIMARY KEY, payload text);\
         INSERT INTO big SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 300000) i;",
    );
    let ws = Workspace::new();
    ws.config(&db.url(), "dump:\n  chunk_size: 1MiB\n");
    // No file of this process may grow past 256 KiB: the first large chunk hits "disk full" (EFBIG
    // takes the same path as ENOSPC: a failed write).
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_decoy"));
    command
        .args(["dump", "create", "--name", "nospace", "-c"])
        .arg(ws.path().join("decoy.yaml"));
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 256 * 1024,
                rlim_max: 256 * 1024,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("public.big") && stderr.contains("File too large"),
        "{stderr}"
    );
    assert!(ws.list().is_empty(), "the partial dump is removed: {:?}", ws.list());
}

#[test]
fn a_missing_privilege_is_reported_with_the_servers_words() {
    let db = small_db();
    let role = format!("decoy_noseq_{}", std::process::id());
    db.sql(&format!(
        "CREATE SEQUENCE counter; CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA public TO {role}; \
         GRANT SELECT ON users, notes TO {role};"
    ));
    let ws = Workspace::new();
    ws.config(&format!("postgres://{role}@127.0.0.1:5432/{}", db.name), "");
    let err = ws.fails(&["dump", "create"], 1);
    db.sql(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
    assert!(
        err.contains("reading sequence public.counter: permission denied for sequence counter"),
        "{err}"
    );
    assert!(!err.contains("db error"), "{err}");
}
