//! MySQL/MariaDB end to end against the MariaDB on this machine: dump, transform, subset and restore
//! of fixtures/mysql/shop.sql (every type, quoting edge cases, composite keys, a cycle, a mixed-case
//! schema, a latin1 table), by LOAD DATA and through the `--output` script.

mod common;

use common::mysql::MyDb;
use common::{repo, Workspace};

const TABLES: &[&str] = &[
    "Customers",
    "Orders",
    "legacy_notes",
    "line_notes",
    "order_lines",
    "players",
    "teams",
];

fn shop() -> MyDb {
    let db = MyDb::create("shop");
    db.load(&repo().join("fixtures/mysql/shop.sql"));
    db
}

fn restore(ws: &Workspace, name: &str) -> MyDb {
    let target = MyDb::create("copy");
    ws.ok(&["dump", "restore", name, "--to", &target.url()]);
    target
}

#[test]
fn a_dump_without_rules_restores_byte_for_byte_with_every_foreign_key() {
    let source = shop();
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    let out = ws.ok(&["dump", "create", "--name", "plain"]);
    assert!(out.contains("dump plain complete"), "{out}");
    let target = restore(&ws, "plain");

    assert_eq!(source.tables(), target.tables());
    for table in TABLES {
        assert_eq!(
            source.checksum(table),
            target.checksum(table),
            "table {table} differs after the round trip"
        );
    }
    assert_eq!(source.foreign_keys().len(), 6);
    assert_eq!(source.foreign_keys(), target.foreign_keys());
    let views = "SELECT COUNT(*) FROM `Big Customers`";
    assert!(source.count(views) > 0);
    assert_eq!(target.count(views), source.count(views), "views come along");
    // The edge cases one by one, so a failure says which.
    let probe = "SELECT Id, HEX(note), HEX(avatar), HEX(token), flags + 0, born, seen_at, updated, wake, \
                 profile, status, tags, big, email_domain FROM Customers WHERE Id < 5 ORDER BY Id";
    assert_eq!(source.lines(probe), target.lines(probe));
    assert_eq!(
        target.lines("SELECT HEX(body) FROM legacy_notes WHERE id = 1"),
        vec!["636166E9206372E86D65".to_string()],
        "latin1 text comes back as latin1"
    );
    // AUTO_INCREMENT counters carry over: the next row gets the id the source would give it.
    for db in [&source, &target] {
        db.sql("INSERT INTO line_notes (order_id, line_no, body) VALUES (1, 1, 'new')");
    }
    let next = "SELECT MAX(id) FROM line_notes";
    assert!(source.count(next) > 300);
    assert_eq!(target.count(next), source.count(next));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.dumps().join("plain/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["source"]["engine"], "mysql");
    let chunk = manifest["tables"][0]["chunks"][0]["path"].as_str().unwrap();
    assert!(chunk.ends_with(".tsv.zst"), "{chunk}");
}

#[test]
fn transformers_respect_mysql_column_types() {
    let source = shop();
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "tables:
  Customers:
    columns:
      Email: email
      First Name: first-name
      last_name: { transformer: last-name, locale: fr }
      age: { transformer: random-int, min: 0, max: 120 }
      status: { transformer: choice, values: [active, vip] }
      balance: noise-number
      born: noise-date
      profile:
        transformer: json
        rules:
          - { path: \"$.nested.email\", transformer: email }
      note: redacted
",
    );
    ws.ok(&["dump", "create", "--name", "faked"]);
    let target = restore(&ws, "faked");
    assert_eq!(target.count("SELECT COUNT(*) FROM Customers"), 205);
    assert_eq!(
        target.count(
            "SELECT COUNT(*) FROM Customers c JOIN `SOURCE`.Customers s USING (Id) WHERE c.Email = s.Email"
                .replace("`SOURCE`", &format!("`{}`", source.name))
                .as_str()
        ),
        0,
        "every email is replaced"
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM Customers WHERE CHAR_LENGTH(`First Name`) > 20 OR age > 120"),
        0
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM Customers WHERE status NOT IN ('active', 'vip')"),
        0,
        "enum values stay labels of the enum"
    );
    let nested = target.lines("SELECT JSON_VALUE(profile, '$.nested.email') FROM Customers WHERE Id = 1");
    assert_ne!(nested, vec!["ann@example.com".to_string()]);
    assert!(nested[0].contains('@'), "{nested:?}");
    // Generated columns are recomputed from the fake values.
    assert_eq!(
        target.count("SELECT COUNT(*) FROM Customers WHERE email_domain <> SUBSTRING_INDEX(Email, '@', -1)"),
        0
    );
    // Zero dates pass through untouched, NULLs stay NULL, untouched columns are byte for byte.
    assert_eq!(
        target.lines("SELECT born, HEX(avatar), HEX(token) FROM Customers WHERE Id = 0"),
        vec!["0000-00-00\tNULL\tNULL".to_string()]
    );
    assert_eq!(source.checksum("Orders"), target.checksum("Orders"));

    // Deterministic: the same salt gives the same fakes in a second dump.
    ws.ok(&["dump", "create", "--name", "again"]);
    let again = restore(&ws, "again");
    assert_eq!(target.checksum("Customers"), again.checksum("Customers"));
}

#[test]
fn the_output_script_loads_with_the_mariadb_client() {
    let source = shop();
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "s"]);
    let script = ws.path().join("restore.sql");
    ws.ok(&["dump", "restore", "s", "--output", script.to_str().unwrap()]);
    let target = MyDb::create("script");
    target.load(&script);
    for table in TABLES {
        assert_eq!(source.checksum(table), target.checksum(table), "table {table}");
    }
    assert_eq!(source.foreign_keys(), target.foreign_keys());
}

#[test]
fn a_subset_keeps_the_share_and_restores_with_every_foreign_key() {
    let source = shop();
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "subset:\n  roots:\n    - { table: Orders, percent: 10 }\n    - { table: players, percent: 20 }\n  depth: 2\n",
    );
    ws.ok(&["dump", "create", "--name", "sub"]);
    // The restore adds every foreign key with checks on: a dangling reference would fail it.
    let target = restore(&ws, "sub");
    assert_eq!(target.foreign_keys(), source.foreign_keys());
    assert_eq!(target.count("SELECT COUNT(*) FROM Orders"), 60);
    assert!(target.count("SELECT COUNT(*) FROM players") >= 20);
    assert_eq!(
        target.count("SELECT COUNT(*) FROM order_lines"),
        180,
        "every line of a root order (depth 1)"
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM Orders o LEFT JOIN Customers c ON c.Id = o.customer_id WHERE c.Id IS NULL"),
        0
    );
    assert!(target.count("SELECT COUNT(*) FROM Customers") < 205);
    // Same config, same rows.
    ws.ok(&["dump", "create", "--name", "sub2"]);
    let again = restore(&ws, "sub2");
    for table in TABLES {
        assert_eq!(target.checksum(table), again.checksum(table), "table {table}");
    }
}

#[test]
fn config_keys_name_tables_with_or_without_the_database() {
    let source = shop();
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        &format!("tables:\n  {}.line_notes: skip\n  legacy_notes: skip\n", source.name),
    );
    ws.ok(&["dump", "create", "--name", "k"]);
    let target = restore(&ws, "k");
    assert_eq!(target.count("SELECT COUNT(*) FROM line_notes"), 0);
    assert_eq!(target.count("SELECT COUNT(*) FROM legacy_notes"), 0);
    assert_eq!(target.count("SELECT COUNT(*) FROM players"), 100);

    ws.config(&source.url(), "tables:\n  Nope: skip\n");
    let err = ws.fails(&["dump", "create", "--name", "bad"], 2);
    assert!(err.contains("Nope"), "{err}");
}

#[test]
fn failures_are_clear_and_leave_nothing_half_restored() {
    let source = shop();
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "d"]);

    // A MySQL dump into a PostgreSQL URL.
    let err = ws.fails(
        &[
            "dump",
            "restore",
            "d",
            "--to",
            "postgres://postgres@127.0.0.1:5432/postgres",
        ],
        2,
    );
    assert!(err.contains("MySQL") && err.contains("mysql://"), "{err}");

    // Restoring over the tables it would create.
    let err = ws.fails(&["dump", "restore", "d", "--to", &source.url()], 2);
    assert!(err.contains("--clean"), "{err}");

    // A corrupted chunk: the restore fails and names the chunk.
    let dir = ws.dumps().join("d/data").join(format!("{}.Customers", source.name));
    let chunk = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&chunk, bytes).unwrap();
    let target = MyDb::create("broken");
    let out = ws.decoy(&["dump", "restore", "d", "--to", &target.url()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Customers"), "{err}");
    assert_eq!(target.count("SELECT COUNT(*) FROM Customers"), 0, "no half table");

    // A source whose rows break a foreign key (MySQL lets FOREIGN_KEY_CHECKS=0 insert them): the
    // restore adds the key and then fails, naming it and the table.
    let orphans = MyDb::create("orphans");
    orphans.sql(
        "CREATE TABLE parent (id INT PRIMARY KEY);
         CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
         INSERT INTO parent VALUES (1);
         SET FOREIGN_KEY_CHECKS = 0;
         INSERT INTO child VALUES (1, 1), (2, NULL), (3, 99);",
    );
    let orphan_ws = Workspace::new();
    orphan_ws.config(&orphans.url(), "");
    orphan_ws.ok(&["dump", "create", "--name", "o"]);
    let target = MyDb::create("orphans_copy");
    let out = orphan_ws.decoy(&["dump", "restore", "o", "--to", &target.url()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 row(s) of child") && err.contains("fk_child_parent"),
        "{err}"
    );

    // A wrong password never shows.
    ws.config("mysql://root:s3cret-pw@127.0.0.1:1/nowhere", "");
    let out = ws.decoy(&["dump", "create", "--name", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("s3cret-pw") && err.contains("127.0.0.1"), "{err}");
}
