//! What a restore guarantees, against the real PostgreSQL, MariaDB and MongoDB-wire servers of this
//! machine: `--output` writes no row of a chunk before the chunk is verified; a restore that fails
//! or is interrupted leaves a marker in its target that a later restore without `--clean` refuses;
//! `--clean` works on every schema shape however often it runs; and the refusals that keep a
//! restore from doing harm (the config's own source as target, a plain dump where encryption is
//! expected, `--workers 0`).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mongo::MongoDb;
use common::mysql::MyDb;
use common::{chunk_paths, decoy_bin, manifest, repo, TestDb, Workspace};

/// Replaces the first `from` in a chunk's rows by `to` (of the same length) and stores the rows
/// compressed again: a valid zstd file with the same rows and row bytes, which only the checksum
/// tells from the original. Returns the original rows.
fn alter_chunk(path: &Path, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let rows = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let at = rows
        .windows(from.len())
        .position(|w| w == from)
        .expect("the chunk holds the text to change");
    let mut changed = rows.clone();
    changed[at..at + from.len()].copy_from_slice(to);
    std::fs::write(path, zstd::encode_all(&changed[..], 1).unwrap()).unwrap();
    rows
}

/// Flips a byte in the middle of a stored chunk.
fn damage(path: &Path) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    let mut bytes = original.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
    original
}

/// Runs decoy with the workspace's config and returns (exit code, stdout, stderr).
fn run(ws: &Workspace, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ws.decoy(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `decoy ARGS | CLIENT` through a shell without `pipefail`, as a CI script would write it: the
/// pipeline's status is the client's.
fn piped(ws: &Workspace, args: &[&str], client: &str) -> std::process::ExitStatus {
    let decoy = format!(
        "'{}' {} -c '{}'",
        decoy_bin().display(),
        args.join(" "),
        ws.path().join("decoy.yaml").display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(format!("{decoy} 2>/dev/null | {client} >/dev/null 2>&1"))
        .current_dir(ws.path())
        .status()
        .unwrap()
}

fn psql_client(db: &TestDb) -> String {
    format!("psql -X -q -v ON_ERROR_STOP=1 -d '{}' -f -", db.url())
}

fn mariadb_client(db: &MyDb) -> String {
    let url = db.url();
    let rest = url.split("://").nth(1).unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "3306"));
    format!("mariadb -h {host} -P {port} -u {user} {database}")
}

/// The restore marker of a PostgreSQL target as `dump state`, if there is one.
fn pg_marker(db: &TestDb) -> Option<String> {
    let exists = db.sql("SELECT to_regclass('public._decoy_restore') IS NOT NULL");
    (exists.trim() == "t").then(|| {
        db.sql("SELECT dump || ' ' || state FROM public._decoy_restore")
            .trim()
            .to_string()
    })
}

fn my_marker(db: &MyDb) -> Option<String> {
    let exists = db.count(&format!(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '_decoy_restore'",
        db.name
    ));
    (exists > 0).then(|| {
        db.sql("SELECT CONCAT(dump, ' ', state) FROM _decoy_restore")
            .trim()
            .to_string()
    })
}

/// A table of several chunks (each read batch of about 1 MiB ends a chunk at this chunk size).
fn pg_table(rows: u32) -> TestDb {
    let db = TestDb::create("safety");
    db.sql(&format!(
        "CREATE TABLE small (id int PRIMARY KEY, name text);\
         INSERT INTO small SELECT i, 'n' || i FROM generate_series(1, 100) i;\
         CREATE TABLE t (id int PRIMARY KEY, email text, body text);\
         INSERT INTO t SELECT i, 'u' || i || '@x.example', repeat(md5(i::text), 2) FROM generate_series(1, {rows}) i;"
    ));
    db
}

fn my_table(rows: u32) -> MyDb {
    let db = MyDb::create("safety");
    db.sql(&format!(
        "CREATE TABLE small (id INT PRIMARY KEY, name VARCHAR(16));
         INSERT INTO small SELECT seq, CONCAT('n', seq) FROM seq_1_to_100;
         CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(64), body VARCHAR(80));
         INSERT INTO t SELECT seq, CONCAT('u', seq, '@x.example'), REPEAT(MD5(seq), 2) FROM seq_1_to_{rows};"
    ));
    db
}

#[test]
fn output_writes_no_row_of_a_chunk_before_the_chunk_is_verified() {
    let source = pg_table(60000);
    let ws = Workspace::new();
    ws.config(&source.url(), "dump:\n  chunk_size: 200kB\n");
    ws.ok(&["dump", "create", "--name", "d"]);
    let paths = chunk_paths(&manifest(&ws, "d"), "t");
    assert!(paths.len() >= 3, "several chunks: {paths:?}");
    let altered = ws.dumps().join("d").join(&paths[1]);
    let original = std::fs::read(&altered).unwrap();
    let rows = alter_chunk(&altered, b"@x.example", b"@X.example");
    let rows = String::from_utf8(rows).unwrap();

    let (code, stdout, stderr) = run(&ws, &["dump", "restore", "d", "--output", "-"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&paths[1]) && stderr.contains("corrupted"), "{stderr}");
    assert!(!stdout.contains("@X.example"), "the altered row was written");
    for row in rows.lines().take(3).chain(rows.lines().last()) {
        assert!(!stdout.contains(row), "a row of the failed chunk was written: {row}");
    }
    // The verified chunk before it was, and the script ends in a statement that fails, so that
    // psql fails with it even where the pipeline's status is psql's.
    let first = ws.dumps().join("d").join(&paths[0]);
    let first = String::from_utf8(zstd::decode_all(std::fs::File::open(first).unwrap()).unwrap()).unwrap();
    assert!(stdout.contains(first.lines().next().unwrap()));
    assert!(
        stdout.trim_end().ends_with("END $$;"),
        "{}",
        &stdout[stdout.len() - 300..]
    );
    let target = TestDb::create("safety_psql");
    let status = piped(&ws, &["dump", "restore", "d", "--output", "-"], &psql_client(&target));
    assert!(!status.success(), "psql loaded an unverified script without an error");
    // The script is one transaction: the failing statement rolls all of it back.
    assert_eq!(target.tables(), Vec::<String>::new());

    // To a file: nothing is left, not even the partial file.
    let file = ws.path().join("out.sql");
    let err = ws.fails(&["dump", "restore", "d", "--output", file.to_str().unwrap()], 1);
    assert!(err.contains(&paths[1]), "{err}");
    assert!(!file.exists() && !ws.path().join("out.sql.partial").exists());

    // A manifest edited to claim another row count is refused before anything is written, by
    // --output as by --to.
    std::fs::write(&altered, original).unwrap();
    let path = ws.dumps().join("d/manifest.json");
    let mut edited = manifest(&ws, "d");
    for table in edited["tables"].as_array_mut().unwrap() {
        if table["name"] == "t" {
            table["rows"] = serde_json::json!(table["rows"].as_u64().unwrap() + 1);
        }
    }
    edited["totals"]["rows"] = serde_json::json!(edited["totals"]["rows"].as_u64().unwrap() + 1);
    std::fs::write(&path, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    let (code, stdout, stderr) = run(&ws, &["dump", "restore", "d", "--output", "-"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{}", &stdout[..stdout.len().min(300)]);
    assert!(
        stderr.contains("contradicts itself") && stderr.contains("public.t"),
        "{stderr}"
    );
    let target = TestDb::create("safety_edited");
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 1);
    assert!(err.contains("contradicts itself"), "{err}");
    assert_eq!(target.tables(), Vec::<String>::new());
    assert_eq!(pg_marker(&target), None);
}

#[test]
fn a_mysql_script_holds_no_row_of_a_chunk_before_the_chunk_is_verified() {
    let source = my_table(60000);
    let ws = Workspace::new();
    ws.config(&source.url(), "dump:\n  chunk_size: 200kB\n");
    ws.ok(&["dump", "create", "--name", "d"]);
    let paths = chunk_paths(&manifest(&ws, "d"), "t");
    assert!(paths.len() >= 3, "several chunks: {paths:?}");
    let altered = ws.dumps().join("d").join(&paths[1]);
    let rows = String::from_utf8(alter_chunk(&altered, b"@x.example", b"@X.example")).unwrap();

    let (code, stdout, stderr) = run(&ws, &["dump", "restore", "d", "--output", "-"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&paths[1]) && stderr.contains("corrupted"), "{stderr}");
    assert!(!stdout.contains("@X.example"), "the altered row was written");
    for row in rows.lines().take(3) {
        let email = row.split('\t').nth(1).unwrap();
        assert!(
            !stdout.contains(&format!("'{email}'")),
            "a row of the failed chunk was written: {row}"
        );
    }
    assert!(
        stdout.contains("'u1@x.example'"),
        "the verified chunk before it is written"
    );
    assert!(
        stdout.trim_end().ends_with("(see decoy''s error)';"),
        "{}",
        &stdout[stdout.len() - 300..]
    );
    let target = MyDb::create("safety_client");
    let status = piped(
        &ws,
        &["dump", "restore", "d", "--output", "-"],
        &mariadb_client(&target),
    );
    assert!(
        !status.success(),
        "the client loaded an unverified script without an error"
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM t WHERE BINARY email LIKE '%@X.example'"),
        0
    );
}

#[test]
fn a_failed_postgres_restore_leaves_a_marker_that_only_clean_gets_past() {
    let source = pg_table(60000);
    let ws = Workspace::new();
    ws.config(&source.url(), "dump:\n  chunk_size: 200kB\n");
    ws.ok(&["dump", "create", "--name", "d"]);
    let last = chunk_paths(&manifest(&ws, "d"), "t").pop().unwrap();
    let path = ws.dumps().join("d").join(&last);
    let original = damage(&path);

    let target = TestDb::create("safety_marked");
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 1);
    assert!(err.contains(&last), "{err}");
    assert!(
        err.contains("left incomplete and marked") && err.contains("_decoy_restore") && err.contains("--clean"),
        "{err}"
    );
    assert_eq!(pg_marker(&target).as_deref(), Some("d incomplete"));
    assert!(target
        .sql("SELECT obj_description('public._decoy_restore'::regclass)")
        .contains("decoy"));

    // Repaired, the dump is still not restored over the incomplete one without --clean.
    std::fs::write(&path, original).unwrap();
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 2);
    assert!(
        err.contains("incomplete restore of dump d") && err.contains(&target.url()) && err.contains("--clean"),
        "{err}"
    );
    ws.ok(&["dump", "restore", "d", "--to", &target.url(), "--clean"]);
    assert_eq!(pg_marker(&target), None, "a complete restore removes its marker");
    assert_eq!(source.rows("t"), target.rows("t"));
    assert_eq!(target.tables(), ["public.small", "public.t"]);
}

#[test]
fn a_failed_mysql_restore_leaves_a_marker_that_only_clean_gets_past() {
    let source = my_table(60000);
    let ws = Workspace::new();
    ws.config(&source.url(), "dump:\n  chunk_size: 200kB\n");
    ws.ok(&["dump", "create", "--name", "d"]);
    let last = chunk_paths(&manifest(&ws, "d"), "t").pop().unwrap();
    let path = ws.dumps().join("d").join(&last);
    let original = damage(&path);

    let target = MyDb::create("safety_marked");
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 1);
    assert!(
        err.contains(&last) && err.contains("left incomplete and marked"),
        "{err}"
    );
    assert_eq!(my_marker(&target).as_deref(), Some("d incomplete"));

    std::fs::write(&path, original).unwrap();
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 2);
    assert!(
        err.contains("incomplete restore of dump d") && err.contains("--clean"),
        "{err}"
    );
    ws.ok(&["dump", "restore", "d", "--to", &target.url(), "--clean"]);
    assert_eq!(my_marker(&target), None, "a complete restore removes its marker");
    assert_eq!(target.tables(), ["small", "t"]);
    assert_eq!(source.checksum("t"), target.checksum("t"));
}

#[test]
fn a_failed_mongo_restore_leaves_a_marker_that_a_restore_without_clean_refuses() {
    let source = MongoDb::create("safety");
    source.insert(
        "people",
        (0..400)
            .map(|i| bson::doc! { "_id": i, "email": format!("u{i}@x.example"), "pad": "x".repeat(200) })
            .collect(),
    );
    source.insert("tags", vec![bson::doc! { "_id": 1, "tag": "a" }]);
    let ws = Workspace::new();
    let config = format!(
        "source:\n  url: {}\n  collections: [people, tags]\ndatastore:\n  local:\n    path: {}\nsalt: test-salt\n\
         dump:\n  chunk_size: 2KiB\n",
        source.url(),
        ws.dumps().display()
    );
    std::fs::write(ws.path().join("decoy.yaml"), config).unwrap();
    ws.ok(&["dump", "create", "--name", "d"]);
    let last = chunk_paths(&manifest(&ws, "d"), "people").pop().unwrap();
    let path = ws.dumps().join("d").join(&last);
    let original = damage(&path);

    let target = MongoDb::create("safety_marked");
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 1);
    assert!(
        err.contains(&last) && err.contains("left incomplete and marked"),
        "{err}"
    );
    let markers = target.documents("_decoy_restore");
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert_eq!(markers[0].get_str("dump"), Ok("d"));
    assert_eq!(markers[0].get_str("state"), Ok("incomplete"));

    std::fs::write(&path, original).unwrap();
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 2);
    assert!(
        err.contains("incomplete restore of dump d") && err.contains("--clean"),
        "{err}"
    );
    // A complete restore leaves no marker.
    let fresh = MongoDb::create("safety_fresh");
    ws.ok(&["dump", "restore", "d", "--to", &fresh.url()]);
    assert!(fresh.documents("_decoy_restore").is_empty());
    assert_eq!(fresh.documents("people").len(), 400);
}

/// Starts a restore and returns once `loading` says the target is in the middle of its load.
fn start_restore(ws: &Workspace, args: &[&str], loading: impl Fn() -> bool) -> std::process::Child {
    let mut child = Command::new(decoy_bin())
        .args(args)
        .arg("-c")
        .arg(ws.path().join("decoy.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !loading() {
        assert!(Instant::now() < deadline, "the restore never started loading");
        if child.try_wait().unwrap().is_some() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("the restore ended before it could be interrupted; grow the table: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// SIGTERM, then the exit code and stderr.
fn terminate(child: std::process::Child) -> (Option<i32>, String) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn sigterm_during_a_postgres_restore_says_the_target_is_incomplete_and_marks_it() {
    let source = TestDb::create("safety_term");
    source.sql(
        "CREATE TABLE big (id int PRIMARY KEY, payload text);\
         INSERT INTO big SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 400000) i;",
    );
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "big"]);
    let target = TestDb::create("safety_term_copy");
    // The server trusts local connections, so the password is never checked, only hidden.
    let url = target.url().replacen("postgres@", "postgres:sekret@", 1);
    let copying = format!(
        "SELECT count(*) FROM pg_stat_progress_copy WHERE datname = '{}'",
        target.name
    );
    let child = start_restore(&ws, &["dump", "restore", "big", "--to", &url], || {
        target.count(&copying) > 0
    });
    let (code, err) = terminate(child);
    assert_eq!(code, Some(1), "{err}");
    let shown = url.replace(":sekret@", ":***@");
    assert!(
        err.contains("interrupted by SIGTERM")
            && err.contains(&format!("the restore of dump big into {shown} is incomplete"))
            && err.contains("--clean"),
        "{err}"
    );
    assert!(!err.contains("sekret") && !err.contains("nothing was left"), "{err}");
    assert_eq!(pg_marker(&target).as_deref(), Some("big incomplete"));
    assert_eq!(
        target.count("SELECT count(*) FROM big"),
        0,
        "the interrupted COPY was rolled back"
    );
    let err = ws.fails(&["dump", "restore", "big", "--to", &target.url()], 2);
    assert!(err.contains("incomplete restore of dump big"), "{err}");
}

#[test]
fn sigterm_during_a_mysql_restore_says_the_target_is_incomplete_and_marks_it() {
    let source = MyDb::create("safety_term");
    source.sql(
        "CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(300));
         INSERT INTO big SELECT seq, REPEAT(MD5(seq), 8) FROM seq_1_to_300000;",
    );
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "big"]);
    let target = MyDb::create("safety_term_copy");
    let loading = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO LIKE 'LOAD DATA%'",
        target.name
    );
    let child = start_restore(&ws, &["dump", "restore", "big", "--to", &target.url()], || {
        target.count(&loading) > 0
    });
    let (code, err) = terminate(child);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("interrupted by SIGTERM")
            && err.contains(&format!("the restore of dump big into {} is incomplete", target.url()))
            && err.contains("--clean"),
        "{err}"
    );
    assert_eq!(my_marker(&target).as_deref(), Some("big incomplete"));
    let err = ws.fails(&["dump", "restore", "big", "--to", &target.url()], 2);
    assert!(err.contains("incomplete restore of dump big"), "{err}");
}

/// Constraints (with their definitions), indexes and triggers.
fn structure(db: &TestDb) -> String {
    db.sql(
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (\
           SELECT format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS x FROM pg_constraint \
             WHERE connamespace = 'shop'::regnamespace \
           UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'shop' \
           UNION ALL SELECT format('%s %s', tgrelid::regclass, tgname) FROM pg_trigger WHERE NOT tgisinternal) s",
    )
}

#[test]
fn clean_restores_partitions_inheritance_and_types_again_and_again() {
    let source = TestDb::create("shapes");
    source.load(&repo().join("fixtures/restore_shapes.sql"), &[]);
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "s"]);
    let target = TestDb::create("shapes_copy");
    let same = |what: &str| {
        assert_eq!(structure(&source), structure(&target), "{what}");
        for table in [
            "shop.customer",
            "shop.payment",
            "shop.refund",
            "shop.note",
            "shop.staff_note",
        ] {
            assert_eq!(source.rows(table), target.rows(table), "{what}: {table}");
        }
        assert_eq!(
            source.rows("shop.customer_total"),
            target.rows("shop.customer_total"),
            "{what}"
        );
        assert_eq!(
            source.rows("shop.refund_count"),
            target.rows("shop.refund_count"),
            "{what}"
        );
        assert_eq!(pg_marker(&target), None, "{what}");
    };
    for run in 1..=3 {
        ws.ok(&["dump", "restore", "s", "--to", &target.url(), "--clean"]);
        same(&format!("restore --clean --to, run {run}"));
    }
    // The documented reseed: the script with its DROP statements, through psql.
    for run in 1..=2 {
        let status = piped(
            &ws,
            &["dump", "restore", "s", "--clean", "--output", "-"],
            &psql_client(&target),
        );
        assert!(status.success(), "restore --clean --output | psql, run {run}");
        same(&format!("restore --clean --output, run {run}"));
    }
    // The FK to the partitioned table holds in the restored copy.
    let out = Command::new("psql")
        .args([
            &target.url(),
            "-X",
            "-c",
            "INSERT INTO shop.refund VALUES (9999, 9999, '2024-01-01')",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("refund_payment_id_paid_on_fkey"));
}

#[test]
fn clean_into_the_configs_own_source_is_refused_unless_forced() {
    let source = pg_table(100);
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "d"]);
    source.sql("INSERT INTO small VALUES (1000, 'after the dump')");
    // The same server and database, written another way.
    let same = source.url().replace("127.0.0.1:5432", "localhost") + "?sslmode=disable";
    let err = ws.fails(&["dump", "restore", "d", "--clean", "--to", &same], 2);
    assert!(err.contains("source database") && err.contains("--force"), "{err}");
    assert_eq!(
        source.count("SELECT count(*) FROM small WHERE id = 1000"),
        1,
        "the source is untouched"
    );
    assert_eq!(pg_marker(&source), None);

    // A restore config without the source's password still knows where the source is.
    let config = format!(
        "source:\n  url: postgres://postgres:${{DECOY_TEST_UNSET_PASSWORD}}@localhost:5432/{}\ndatastore:\n  local:\n    \
         path: {}\n",
        source.name,
        ws.dumps().display()
    );
    std::fs::write(ws.path().join("decoy.yaml"), config).unwrap();
    let err = ws.fails(&["dump", "restore", "d", "--clean", "--to", &source.url()], 2);
    assert!(err.contains("source database"), "{err}");

    // Another database is fine, and so is the source itself with --force.
    let other = TestDb::create("safety_other");
    ws.ok(&["dump", "restore", "d", "--clean", "--to", &other.url()]);
    ws.ok(&["dump", "restore", "d", "--clean", "--to", &same, "--force"]);
    assert_eq!(source.count("SELECT count(*) FROM small WHERE id = 1000"), 0);
}

#[test]
fn a_plain_dump_is_refused_where_the_config_expects_encryption() {
    let source = pg_table(100);
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "plain"]);
    let target = TestDb::create("safety_plain");
    for encryption in [
        "encryption:\n  passphrase: correct horse battery staple\n",
        // A passphrase this run has no value for: the section still says dumps are encrypted.
        "encryption:\n  passphrase: ${DECOY_TEST_UNSET_PASSPHRASE}\n",
    ] {
        ws.config(&source.url(), encryption);
        for args in [
            vec!["dump", "restore", "plain", "--to", target.url().as_str()],
            vec!["dump", "restore", "plain", "--output", "-"],
            vec!["dump", "verify", "plain"],
        ] {
            let err = ws.fails(&args, 2);
            assert!(
                err.contains("dump plain is not encrypted") && err.contains("--allow-unencrypted"),
                "{args:?}: {err}"
            );
        }
        assert_eq!(target.tables(), Vec::<String>::new());
    }
    ws.ok(&["dump", "verify", "plain", "--allow-unencrypted"]);
    ws.ok(&["dump", "restore", "plain", "--to", &target.url(), "--allow-unencrypted"]);
    assert_eq!(source.rows("t"), target.rows("t"));
}

#[test]
fn restore_refuses_zero_workers() {
    let source = pg_table(100);
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "d"]);
    let target = TestDb::create("safety_workers");
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url(), "--workers", "0"], 2);
    assert!(err.contains("--workers"), "{err}");
    assert_eq!(target.tables(), Vec::<String>::new());
}

/// A PostgreSQL script cut short (decoy killed while it writes to `| psql`, a full disk) commits
/// nothing: the script is one transaction, which psql's session rolls back at the cut.
#[test]
fn a_postgres_script_cut_short_leaves_the_target_untouched() {
    let source = pg_table(20_000);
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "d"]);
    ws.ok(&["dump", "restore", "d", "--output", "full.sql"]);
    let script = std::fs::read(ws.path().join("full.sql")).unwrap();
    // Cut in the middle of the second table's rows, at a line boundary, as a killed writer would.
    let copy_t = script
        .windows(br#"COPY "public"."t" "#.len())
        .position(|w| w == br#"COPY "public"."t" "#)
        .expect("the script copies table t");
    let cut = copy_t + script[copy_t..].len() / 2;
    let cut = cut + script[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    std::fs::write(ws.path().join("cut.sql"), &script[..cut]).unwrap();
    let target = TestDb::create("cut");
    let out = Command::new("psql")
        .arg(target.url())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(ws.path().join("cut.sql"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        target.tables().is_empty(),
        "a cut script committed {:?}",
        target.tables()
    );
    // The whole script still loads.
    let out = Command::new("psql")
        .arg(target.url())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(ws.path().join("full.sql"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(target.count("SELECT count(*) FROM t"), 20_000);
}

/// A MySQL script cannot be one transaction (DDL commits), so it marks its target as `--to` does:
/// a script cut short leaves `_decoy_restore`, which a later restore without --clean refuses; a
/// whole script removes it.
#[test]
fn a_mysql_script_cut_short_leaves_its_target_marked() {
    let source = my_table(20_000);
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "d"]);
    ws.ok(&["dump", "restore", "d", "--output", "full.sql"]);
    let script = std::fs::read(ws.path().join("full.sql")).unwrap();
    let inserts = script
        .windows(b"INSERT INTO `t`".len())
        .position(|w| w == b"INSERT INTO `t`")
        .expect("the script inserts into t");
    std::fs::write(ws.path().join("cut.sql"), &script[..inserts]).unwrap();
    let load = |target: &MyDb, file: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("{} < {file}", mariadb_client(target)))
            .current_dir(ws.path())
            .status()
            .unwrap()
    };
    let target = MyDb::create("cut");
    assert!(load(&target, "cut.sql").success());
    assert_eq!(my_marker(&target).as_deref(), Some("d incomplete"));
    let err = ws.fails(&["dump", "restore", "d", "--to", &target.url()], 2);
    assert!(
        err.contains("incomplete restore of dump d") && err.contains("--clean"),
        "{err}"
    );

    let whole = MyDb::create("whole");
    assert!(load(&whole, "full.sql").success());
    assert_eq!(my_marker(&whole), None);
    assert_eq!(source.checksum("t"), whole.checksum("t"));
}
