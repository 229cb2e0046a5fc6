//! Large tables read as several ranges of one snapshot (PostgreSQL heap pages, MySQL integer
//! primary keys), and `dump.memory_limit`, against the real servers on this machine.

mod common;

use common::mysql::MyDb;
use common::{chunk_paths, manifest, TestDb, Workspace};

/// Every column's text, in key order, as one digest: equal digests mean equal tables.
fn pg_digest(db: &TestDb, table: &str) -> String {
    db.sql(&format!(
        "SELECT md5(string_agg(t::text, '|' ORDER BY id)) || ' ' || count(*) FROM {table} t"
    ))
}

const PG_RULES: &str = "tables:\n  public.big:\n    columns:\n      email: email\n";

/// A table whose heap has dead tuples, HOT-updated rows and rows moved to later pages: page ranges
/// must still give every live row exactly once, with the same fakes as one stream.
#[test]
fn postgres_page_ranges_give_the_same_rows_as_one_stream() {
    let source = TestDb::create("ranges_src");
    source.sql(
        "CREATE TABLE big (id int PRIMARY KEY, email text NOT NULL, note text, n int);\
         ALTER TABLE big SET (autovacuum_enabled = false, fillfactor = 70);\
         INSERT INTO big SELECT i, 'user' || i || '@corp.example', repeat(md5(i::text), 4), 0 \
           FROM generate_series(1, 120000) i;\
         DELETE FROM big WHERE id % 7 = 0;\
         UPDATE big SET n = 1 WHERE id % 5 = 0;\
         UPDATE big SET note = repeat(md5(id::text), 12) WHERE id % 11 = 0;\
         CREATE TABLE small (id int PRIMARY KEY, big_id int REFERENCES big);\
         INSERT INTO small SELECT i, i FROM generate_series(1, 100) i WHERE i % 7 <> 0;",
    );
    let expected = pg_digest(&source, "big");

    let ws = Workspace::new();
    ws.config(
        &source.url(),
        &format!("{PG_RULES}dump:\n  workers: 3\n  chunk_size: 2MiB\n  split_table_bytes: 4MiB\n"),
    );
    let log = ws.ok_log(&["dump", "create", "--name", "ranges"]);
    assert!(log.contains("read in ranges on several connections"), "{log}");

    ws.config(
        &source.url(),
        &format!("{PG_RULES}dump:\n  workers: 3\n  chunk_size: 2MiB\n  split_table_bytes: 0\n"),
    );
    assert!(!ws
        .ok_log(&["dump", "create", "--name", "whole"])
        .contains("read in ranges"));

    let (ranges, whole) = (manifest(&ws, "ranges"), manifest(&ws, "whole"));
    let big_rows = |m: &serde_json::Value| {
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "big")
            .unwrap()["rows"]
            .clone()
    };
    assert_eq!(big_rows(&ranges), serde_json::json!(120000 - 120000 / 7));
    assert_eq!(big_rows(&ranges), big_rows(&whole));
    // Chunk names stay unique when several ranges write chunks of one table at once.
    let paths = chunk_paths(&ranges, "big");
    let mut unique = paths.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(paths.len(), unique.len(), "{paths:?}");
    assert!(
        paths.len() > 3,
        "three ranges or more, each at least one chunk: {paths:?}"
    );

    let mut digests = Vec::new();
    for dump in ["ranges", "whole"] {
        let target = TestDb::create("ranges_dst");
        ws.ok(&["dump", "restore", dump, "--to", &target.url()]);
        digests.push(pg_digest(&target, "big"));
        assert_eq!(target.count("SELECT count(*) FROM small"), 86);
        // Emails were replaced, with the same fake in both dumps (the digests compare below).
        assert_eq!(
            target.count("SELECT count(*) FROM big WHERE email LIKE 'user%@corp.example'"),
            0
        );
    }
    assert_eq!(digests[0], digests[1], "split and whole dumps restore the same table");
    assert_ne!(digests[0], expected, "the email rule changed the table");
    ws.ok(&["dump", "verify", "ranges"]);
}

/// MySQL tables split on an integer primary key, negative keys and gaps included; a table whose
/// key is text is read whole.
#[test]
fn mysql_key_ranges_give_the_same_rows_as_one_stream() {
    let source = MyDb::create("ranges");
    source.sql(
        "SET SESSION max_recursive_iterations = 100000;\
         CREATE TABLE big (id BIGINT PRIMARY KEY, email VARCHAR(80) NOT NULL, note TEXT) ENGINE=InnoDB;\
         INSERT INTO big WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60000) \
           SELECT IF(i % 3 = 0, -i, i * 10), CONCAT('user', i, '@corp.example'), REPEAT(MD5(i), 4) FROM s;\
         CREATE TABLE tagged (code VARCHAR(20) PRIMARY KEY, note TEXT) ENGINE=InnoDB;\
         INSERT INTO tagged WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) \
           SELECT CONCAT('c', i), REPEAT(MD5(i), 8) FROM s;\
         ANALYZE TABLE big, tagged;",
    );
    let rules = "tables:\n  big:\n    columns:\n      email: email\n";
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        &format!("{rules}dump:\n  workers: 3\n  chunk_size: 1MiB\n  split_table_bytes: 1MiB\n"),
    );
    let log = ws.ok_log(&["dump", "create", "--name", "ranges"]);
    // `big` is split; `tagged` (a text key) is not.
    assert_eq!(log.matches("read in ranges").count(), 1, "{log}");
    assert!(
        log.lines().any(|l| l.contains("read in ranges") && l.contains(".big")),
        "{log}"
    );
    ws.config(
        &source.url(),
        &format!("{rules}dump:\n  workers: 3\n  chunk_size: 1MiB\n  split_table_bytes: 0\n"),
    );
    ws.ok(&["dump", "create", "--name", "whole"]);

    let mut checksums = Vec::new();
    for dump in ["ranges", "whole"] {
        let target = MyDb::create("ranges_dst");
        ws.ok(&["dump", "restore", dump, "--to", &target.url()]);
        assert_eq!(target.count("SELECT COUNT(*) FROM big"), 60000);
        assert_eq!(target.count("SELECT COUNT(*) FROM big WHERE id < 0"), 20000);
        assert_eq!(
            target.count("SELECT COUNT(*) FROM big WHERE email LIKE 'user%@corp.example'"),
            0
        );
        assert_eq!(target.checksum("tagged"), source.checksum("tagged"));
        checksums.push(target.checksum("big"));
    }
    assert_eq!(checksums[0], checksums[1]);
}

/// More workers than `dump.memory_limit` can hold run fewer at once, and the dump and restore stay
/// under the limit on a table several times larger than their buffers.
#[test]
fn memory_limit_caps_streams_and_peak_memory() {
    let source = TestDb::create("budget");
    source.sql(
        "CREATE TABLE big (id int PRIMARY KEY, email text, body text);\
         INSERT INTO big SELECT i, 'u' || i || '@x.example', repeat(md5(i::text), 4) \
           FROM generate_series(1, 400000) i;",
    );
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "tables:\n  big:\n    columns:\n      email: email\n\
         dump:\n  workers: 8\n  chunk_size: 4MiB\n  split_table_bytes: 8MiB\n  memory_limit: 100MiB\n",
    );
    let (stdout, log) = ws.ok_output(&["dump", "create", "--json", "--name", "capped"]);
    assert!(log.contains("streams at once, not the 8 asked for"), "{log}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["rows"], 400000);
    let raw = summary["raw_bytes"].as_u64().unwrap();
    let peak = summary["peak_rss_bytes"].as_u64().unwrap();
    assert!(
        raw > 60 << 20,
        "the table ({raw} bytes) is larger than the whole budget's buffers"
    );
    assert!(peak < 100 << 20, "peak {} MiB passed the 100 MiB limit", peak >> 20);

    let target = TestDb::create("budget_dst");
    let log = ws.ok_log(&["dump", "restore", "capped", "--to", &target.url(), "--workers", "8"]);
    assert!(log.contains("holds"), "restores are capped too: {log}");
    assert_eq!(target.count("SELECT count(*) FROM big"), 400000);
}

#[test]
fn a_memory_limit_too_small_for_one_stream_is_a_config_error() {
    let source = TestDb::create("budget_small");
    source.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
    let ws = Workspace::new();
    ws.config(&source.url(), "dump:\n  memory_limit: 40MiB\n");
    let err = ws.fails(&["dump", "create"], 2);
    assert!(
        err.contains("dump.memory_limit")
            && err.contains("40.0 MiB is too small")
            && err.contains("set it to at least"),
        "{err}"
    );
    assert!(ws.list().is_empty(), "nothing is listed after a refused dump");
}

/// A single value larger than the budget: the dump stops with an error that names the limit, and
/// no dump is left behind.
#[test]
fn a_row_larger_than_the_memory_limit_stops_the_dump_cleanly() {
    let source = TestDb::create("budget_row");
    source
        .sql("CREATE TABLE huge (id int PRIMARY KEY, body text); INSERT INTO huge VALUES (1, repeat('x', 150000000));");
    let ws = Workspace::new();
    ws.config(&source.url(), "dump:\n  workers: 1\n  memory_limit: 96MiB\n");
    let err = ws.fails(&["dump", "create", "--name", "huge"], 2);
    assert!(err.contains("past dump.memory_limit (96.0 MiB)"), "{err}");
    assert!(ws.list().is_empty(), "the partial dump is removed");
}
