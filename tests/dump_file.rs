//! `decoy dump create --from-file` against files made by the real pg_dump and mysqldump: the dump
//! restores to exactly what a live dump of the same database restores to (same salt, same fakes).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::mysql::MyDb;
use common::{repo, TestDb, Workspace};

const PG_TRICKY: &str = r#"
CREATE TYPE public.mood AS ENUM ('happy', 'it''s ok');
CREATE DOMAIN public.short_text AS varchar(30);
CREATE TABLE public.people (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text,
    note text,
    data bytea,
    tags text[],
    doc jsonb,
    born date,
    seen timestamptz,
    amount numeric(12,2),
    m public.mood,
    flag boolean,
    ratio double precision,
    nick public.short_text,
    shout text GENERATED ALWAYS AS (upper(name)) STORED
);
CREATE TABLE public."Order" (
    "Id" integer PRIMARY KEY,
    "select" text,
    person_id integer REFERENCES public.people (id),
    "Mixed Case" text
);
CREATE TABLE public.audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text);
CREATE INDEX order_person_idx ON public."Order" (person_id);
INSERT INTO public.people (email, name, note, data, tags, doc, born, seen, amount, m, flag, ratio, nick) VALUES
 ('ann@corp.example', 'Ann', E'tab\there\nnew line \\ back', '\x00ff5c0a', '{a,"b c",NULL,"q\"uote"}', '{"k": "v\"\\n"}', '1980-02-29', '2024-01-01 10:00:00+02', 12.50, 'it''s ok', true, 0.1, 'annie'),
 ('bob@corp.example', 'Bob', '', NULL, '{}', '[]', NULL, NULL, -0.01, 'happy', false, 1e-300, NULL),
 ('zoe@corp.example', 'Zoë', NULL, '', NULL, NULL, '2000-01-01', 'infinity', 99999.99, NULL, NULL, 'NaN', 'z'),
 ('o''brien@corp.example', '日本語 テキスト', E'\\N is not null', '\x5c4e', '{"\\\\"}', '{"a": [1, 2.5, null]}', '0099-12-31', '1970-01-01 00:00:00+00', 0, 'happy', true, -2.5, '');
INSERT INTO public."Order" VALUES (1, 'select * from x;', 1, 'Mixed'), (2, E'a\tb', 4, NULL), (3, NULL, NULL, '\.');
INSERT INTO public.audit (what) VALUES ('created'), ('deleted');
"#;

const PG_RULES: &str = "tables:\n  public.people:\n    columns:\n      email: email\n      name: first-name\n      \
                        note: { transformer: redacted }\n  public.Order:\n    columns:\n      select: lorem\n  \
                        public.audit: skip\n";

fn pg_dump(db: &TestDb, extra: &[&str], path: &Path) {
    let out = Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges"])
        .args(extra)
        .arg(format!("--dbname={}", db.url()))
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(path, out.stdout).unwrap();
}

fn pg_compare(a: &TestDb, b: &TestDb) {
    let tables = a.tables();
    assert_eq!(tables, b.tables());
    for table in &tables {
        assert_eq!(a.rows(table), b.rows(table), "table {table} differs");
    }
}

#[test]
fn postgres_files_restore_like_the_live_dump() {
    let source = TestDb::create("file_src");
    source.sql(PG_TRICKY);
    let ws = Workspace::new();
    ws.config(&source.url(), PG_RULES);
    ws.ok(&["dump", "create", "--name", "live"]);
    let live = TestDb::create("file_live");
    ws.ok(&["dump", "restore", "live", "--to", &live.url()]);
    assert_eq!(live.count("SELECT count(*) FROM public.audit"), 0, "skipped");
    assert_ne!(
        live.sql("SELECT email FROM public.people ORDER BY id LIMIT 1").trim(),
        "ann@corp.example"
    );

    // No source needed: the config's source names an unset variable.
    ws.config("postgres://u:${NOT_SET_ANYWHERE}@nowhere/db", PG_RULES);
    for (variant, extra) in [
        ("plain", &[][..]),
        ("inserts", &["--inserts"][..]),
        ("column_inserts", &["--column-inserts", "--rows-per-insert=2"][..]),
    ] {
        let file = ws.path().join(format!("{variant}.sql"));
        pg_dump(&source, extra, &file);
        let out = ws.ok(&[
            "dump",
            "create",
            "--from-file",
            file.to_str().unwrap(),
            "--name",
            variant,
        ]);
        assert!(out.contains(&format!("dump {variant} complete")), "{out}");
        let target = TestDb::create("file_tgt");
        ws.ok(&["dump", "restore", variant, "--to", &target.url()]);
        pg_compare(&live, &target);
        assert_eq!(
            target.sql("SELECT nextval('public.people_id_seq')").trim(),
            "5",
            "{variant}"
        );
        assert_eq!(
            target
                .sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
                .trim(),
            "1",
            "{variant}: the foreign key is restored"
        );
    }

    // Standard input, restored to a SQL script for psql.
    let file = ws.path().join("plain.sql");
    let out = Command::new(env!("CARGO_BIN_EXE_decoy"))
        .args(["dump", "create", "--from-file", "-", "--name", "stdin"])
        .current_dir(ws.path())
        .env("DECOY_CONFIG", ws.path().join("decoy.yaml"))
        .stdin(std::fs::File::open(&file).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let script = ws.path().join("restored.sql");
    ws.ok(&["dump", "restore", "stdin", "--output", script.to_str().unwrap()]);
    let target = TestDb::create("file_script");
    target.load(&script, &[]);
    pg_compare(&live, &target);

    // A rule naming a table the file does not have is a config error.
    ws.config(
        "postgres://u:${NOT_SET_ANYWHERE}@nowhere/db",
        "tables:\n  public.customers:\n    columns:\n      email: email\n",
    );
    let err = ws.fails(&["dump", "create", "--from-file", file.to_str().unwrap()], 2);
    assert!(err.contains("no table `public.customers`"), "{err}");
}

#[test]
fn mysqldump_files_restore_like_the_live_dump() {
    let source = MyDb::create("file_src");
    source.sql(
        r#"
        CREATE TABLE customers (
          id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
          email varchar(80) NOT NULL UNIQUE,
          name varchar(40),
          note text,
          b varbinary(16),
          blb blob,
          flags bit(5),
          amount decimal(10,2),
          dt datetime(3),
          doc json,
          e enum('a','b''c'),
          total int AS (id * 2) VIRTUAL,
          `Weird Col` varchar(10)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        CREATE TABLE `order` (
          id int NOT NULL PRIMARY KEY,
          customer_id int unsigned,
          CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
        ) ENGINE=InnoDB;
        CREATE VIEW big_orders AS SELECT id FROM `order` WHERE id > 1;
        INSERT INTO customers (email, name, note, b, blb, flags, amount, dt, doc, e, `Weird Col`) VALUES
          ('ann@corp.example', 'Ann', 'tab\there\nline \\ back ''q'' "d"', X'00FF5C0A27', X'0D1A00', b'10101', 12.50,
           '2024-02-29 10:00:00.123', '{"k": "v\\n"}', 'b''c', 'w'),
          ('bob@corp.example', 'Bob', '', '', NULL, b'0', -0.01, '0000-00-00 00:00:00', '[]', 'a', NULL),
          ('zoe@corp.example', 'Zoë 日本', NULL, NULL, '', NULL, NULL, NULL, NULL, NULL, '');
        INSERT INTO `order` VALUES (1, 1), (2, 3), (3, NULL);
        "#,
    );
    let rules = "tables:\n  customers:\n    columns:\n      email: email\n      name: first-name\n      \
                 note: redacted\n";
    let ws = Workspace::new();
    ws.config(&source.url(), rules);
    ws.ok(&["dump", "create", "--name", "live"]);
    let live = MyDb::create("file_live");
    ws.ok(&["dump", "restore", "live", "--to", &live.url()]);

    ws.config("mysql://u:${NOT_SET_ANYWHERE}@nowhere/db", rules);
    let (host_args, _) = common_mysql_args();
    for (variant, extra) in [
        ("default", &[][..]),
        ("hex", &["--hex-blob"][..]),
        ("rows", &["--skip-extended-insert", "--complete-insert"][..]),
    ] {
        let out = Command::new("mysqldump")
            .args(&host_args)
            .args(extra)
            .arg(&source.name)
            .output()
            .expect("mysqldump runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let file = ws.path().join(format!("{variant}.sql"));
        std::fs::write(&file, &out.stdout).unwrap();
        ws.ok(&[
            "dump",
            "create",
            "--from-file",
            file.to_str().unwrap(),
            "--name",
            variant,
        ]);
        let target = MyDb::create("file_tgt");
        ws.ok(&["dump", "restore", variant, "--to", &target.url()]);
        assert_eq!(live.tables(), target.tables(), "{variant}");
        for table in live.tables() {
            assert_eq!(
                live.checksum(&table),
                target.checksum(&table),
                "{variant}: table {table} differs"
            );
        }
        assert_eq!(target.foreign_keys(), vec!["order.fk_customer"], "{variant}");
        assert_eq!(
            target.lines("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"),
            vec!["big_orders"],
            "{variant}"
        );
        assert_ne!(
            target.sql("SELECT email FROM customers WHERE id = 1").trim(),
            "ann@corp.example"
        );
    }
}

/// Host, port and user for the mysql tools, from `DECOY_TEST_MYSQL`.
fn common_mysql_args() -> (Vec<String>, ()) {
    let url = common::mysql::server();
    let rest = url
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let (user, host) = rest.split_once('@').unwrap_or(("root", &rest));
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    (
        vec![
            "-h".into(),
            host.into(),
            "-P".into(),
            port.into(),
            "-u".into(),
            user.into(),
        ],
        (),
    )
}

fn sample_file() -> std::path::PathBuf {
    repo().join("fixtures/sample/sample.pgdump.sql")
}

fn file_config(ws: &Workspace, body: &str) {
    ws.config("postgres://u:${NOT_SET_ANYWHERE}@nowhere/db", body);
}

#[test]
fn a_truncated_file_fails_with_its_line_and_leaves_no_dump() {
    let ws = Workspace::new();
    file_config(&ws, "");
    let text = std::fs::read_to_string(sample_file()).unwrap();
    // Cut inside the users' COPY data.
    let copy = text.find("COPY public.users").unwrap();
    let cut = copy + text[copy..].find('\n').unwrap() + 200;
    let file = ws.path().join("cut.sql");
    std::fs::write(&file, &text[..cut]).unwrap();
    let err = ws.fails(&["dump", "create", "--from-file", file.to_str().unwrap()], 1);
    // The last line read, in the middle of a row.
    let line = text[..cut].lines().count();
    assert!(
        err.contains(&format!(
            "cut.sql, line {line}: the file ends in the middle of a COPY row"
        )),
        "{err}"
    );
    assert!(ws.list().is_empty(), "nothing is left");

    // Cut between statements: the missing closing comment gives it away.
    let end = text.find("-- PostgreSQL database dump complete").unwrap();
    std::fs::write(&file, &text[..end]).unwrap();
    let err = ws.fails(&["dump", "create", "--from-file", file.to_str().unwrap()], 1);
    assert!(err.contains("cut.sql") && err.contains("truncated"), "{err}");
    assert!(ws.list().is_empty());
}

#[test]
fn files_that_are_not_dumps_and_subsets_are_usage_errors() {
    let ws = Workspace::new();
    file_config(&ws, "");
    let file = ws.path().join("notes.sql");
    std::fs::write(&file, "SELECT 1;\n").unwrap();
    let err = ws.fails(&["dump", "create", "--from-file", file.to_str().unwrap()], 2);
    assert!(err.contains("notes.sql, line 1: not a dump file"), "{err}");
    let missing = ws.path().join("missing.sql");
    let err = ws.fails(&["dump", "create", "--from-file", missing.to_str().unwrap()], 1);
    assert!(err.contains("cannot open") && err.contains("missing.sql"), "{err}");

    file_config(&ws, "subset:\n  roots: [{ table: public.users, percent: 10 }]\n");
    let err = ws.fails(&["dump", "create", "--from-file", sample_file().to_str().unwrap()], 2);
    assert!(err.contains("subset") && err.contains("--from-file"), "{err}");

    // Without --from-file, a missing source says how to use a file instead.
    std::fs::write(
        ws.path().join("decoy.yaml"),
        format!("datastore:\n  local: {{ path: {} }}\nsalt: s\n", ws.dumps().display()),
    )
    .unwrap();
    let err = ws.fails(&["dump", "create"], 2);
    assert!(err.contains("--from-file"), "{err}");
}

#[test]
fn the_sample_file_restores_to_the_sample_database_with_its_rules() {
    // The quick start's own path: the committed sample file, the sample config, a SQL script out.
    let ws = Workspace::new();
    let config = std::fs::read_to_string(repo().join("fixtures/sample/decoy.yaml"))
        .unwrap()
        .replace("./dumps", ws.dumps().to_str().unwrap())
        .replace("${DECOY_SALT}", "quickstart");
    std::fs::write(ws.path().join("decoy.yaml"), config).unwrap();
    ws.ok(&[
        "dump",
        "create",
        "--from-file",
        sample_file().to_str().unwrap(),
        "--name",
        "s",
    ]);
    let script = ws.path().join("restored.sql");
    ws.ok(&["dump", "restore", "s", "--output", script.to_str().unwrap()]);

    let original = TestDb::create("sample_orig");
    original.load(&repo().join("fixtures/sample/schema.sql"), &[]);
    original.load(&repo().join("fixtures/sample/data.sql"), &[("scale", "0.05")]);
    let restored = TestDb::create("sample_restored");
    restored.load(&script, &[]);
    assert_eq!(original.tables(), restored.tables());
    // Untouched tables are identical; faked columns differ, kept columns do not.
    assert_eq!(original.rows("public.products"), restored.rows("public.products"));
    assert_eq!(original.rows("public.orders"), restored.rows("public.orders"));
    assert_eq!(restored.count("SELECT count(*) FROM public.audit_log"), 0, "skipped");
    let same = "SELECT count(*) FROM public.users";
    assert_eq!(original.count(same), restored.count(same));
    let emails = "SELECT string_agg(email, ',' ORDER BY id) FROM public.users";
    assert_ne!(original.sql(emails), restored.sql(emails));
    let changed = restored.sql("SELECT string_agg(first_name, ',' ORDER BY id) FROM public.users");
    assert_ne!(
        changed,
        original.sql("SELECT string_agg(first_name, ',' ORDER BY id) FROM public.users")
    );
    assert_eq!(
        restored.sql("SELECT string_agg(date_of_birth::text, ',' ORDER BY id) FROM public.users"),
        original.sql("SELECT string_agg(date_of_birth::text, ',' ORDER BY id) FROM public.users")
    );
}

#[test]
fn only_leaves_a_table_out_with_its_indexes_constraints_and_sequences() {
    let ws = Workspace::new();
    file_config(
        &ws,
        "only: [public.users, public.orders, public.products, billing.*]\ntables:\n  public.users:\n    columns:\n      \
         email: email\n",
    );
    ws.ok(&[
        "dump",
        "create",
        "--from-file",
        sample_file().to_str().unwrap(),
        "--name",
        "o",
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.dumps().join("o/manifest.json")).unwrap()).unwrap();
    let sequences: Vec<&str> = manifest["schema"]["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!sequences.iter().any(|s| s.starts_with("audit_log")), "{sequences:?}");
    let target = TestDb::create("sample_only");
    ws.ok(&["dump", "restore", "o", "--to", &target.url()]);
    let tables = target.tables();
    assert!(tables.contains(&"public.users".to_string()), "{tables:?}");
    assert!(
        !tables
            .iter()
            .any(|t| t.contains("audit_log") || t.contains("addresses")),
        "{tables:?}"
    );
    assert!(target.count("SELECT count(*) FROM public.users") > 0);
}
