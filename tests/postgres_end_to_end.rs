//! `decoy dump create` → `restore` against the real PostgreSQL on this machine.

mod common;

use common::{repo, TestDb, Workspace};

fn all_types_db() -> TestDb {
    let db = TestDb::create("types");
    db.load(&repo().join("fixtures/pg_all_types.sql"), &[]);
    db
}

fn sample_db(scale: &str) -> TestDb {
    let db = TestDb::create("sample");
    db.load(&repo().join("fixtures/sample/schema.sql"), &[]);
    db.load(&repo().join("fixtures/sample/data.sql"), &[("scale", scale)]);
    db
}

/// Constraints, indexes and sequence positions that must survive a restore.
fn structure(db: &TestDb) -> String {
    db.sql(
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (\
           SELECT format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS x FROM pg_constraint \
             WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) \
           UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
           UNION ALL SELECT format('%I.%I %s', schemaname, sequencename, last_value) FROM pg_sequences) s",
    )
}

#[test]
fn round_trip_without_transformers_is_identical_for_every_type() {
    let source = all_types_db();
    // A populated materialized view comes back populated (refreshed over the restored data).
    source.sql("CREATE MATERIALIZED VIEW public.employee_count AS SELECT count(*) AS n FROM public.employees");
    let target = TestDb::create("types_copy");
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    let summary = ws.ok(&["dump", "create", "--name", "first"]);
    assert!(summary.contains("dump first complete"), "{summary}");
    ws.ok(&["dump", "restore", "first", "--to", &target.url()]);

    let tables = source.tables();
    assert!(tables.len() >= 15, "fixture has many tables: {tables:?}");
    assert_eq!(tables, target.tables());
    for table in &tables {
        assert_eq!(
            source.rows(table),
            target.rows(table),
            "table {table} differs after restore"
        );
    }
    assert_eq!(structure(&source), structure(&target));
    assert_eq!(
        source.rows("public.employee_count"),
        target.rows("public.employee_count")
    );
    // Sequences continue where the source was, so new rows do not collide.
    assert_eq!(target.sql("SELECT nextval('public.ticket_seq')").trim(), "4243");
    assert_eq!(
        target.sql("SELECT nextval('\"MixedSchema\".counter_seq')").trim(),
        "500"
    );
}

#[test]
fn sql_script_output_loads_with_psql_and_matches() {
    let source = all_types_db();
    let target = TestDb::create("types_script");
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create"]);
    let script = ws.path().join("restore.sql");
    ws.ok(&["dump", "restore", "latest", "--output", script.to_str().unwrap()]);
    target.load(&script, &[]);
    for table in source.tables() {
        assert_eq!(
            source.rows(&table),
            target.rows(&table),
            "table {table} differs after psql -f"
        );
    }
    assert_eq!(structure(&source), structure(&target));

    // `--output -` writes the same script to stdout.
    let stdout = ws.ok(&["dump", "restore", "--output", "-"]);
    assert_eq!(stdout, std::fs::read_to_string(&script).unwrap());
}

#[test]
fn transformed_columns_change_and_everything_else_is_byte_identical() {
    let source = sample_db("1");
    let target = TestDb::create("sample_copy");
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "tables:\n  public.users:\n    columns:\n      email: email\n      first_name: first-name\n      last_name: last-name\n\
         \x20     phone: { transformer: phone-number, keep_format: true }\n  billing.invoices:\n    columns:\n\
         \x20     card_number: credit-card\n  public.audit_log: skip\n",
    );
    ws.ok(&["dump", "create"]);
    ws.ok(&["dump", "restore", "latest", "--to", &target.url()]);

    // No original value of a transformed column survives. Names come from a realistic pool of a few
    // thousand, so a row may draw its own name by chance (about 1 in 3,000): at most 1% for names,
    // none for the others, which are not drawn from the source's values at all.
    for (table, column) in [
        ("public.users", "email"),
        ("public.users", "first_name"),
        ("public.users", "last_name"),
        ("public.users", "phone"),
        ("billing.invoices", "card_number"),
    ] {
        let sql = format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id");
        let original: Vec<String> = source.sql(&sql).lines().map(str::to_string).collect();
        let faked: Vec<String> = target.sql(&sql).lines().map(str::to_string).collect();
        assert_eq!(
            original.len(),
            faked.len(),
            "{table}.{column}: NULLs must stay NULL and nothing else"
        );
        let same_row = original.iter().zip(&faked).filter(|(a, b)| a == b).count();
        let values = |rows: &[String]| -> std::collections::HashSet<String> {
            rows.iter().map(|r| r.split_once('|').unwrap().1.to_string()).collect()
        };
        let anywhere = values(&faked).intersection(&values(&original)).count();
        if column.ends_with("name") {
            assert!(
                same_row * 100 <= faked.len(),
                "{table}.{column}: {same_row} of {} rows kept their value",
                faked.len()
            );
        } else {
            assert_eq!(
                (same_row, anywhere),
                (0, 0),
                "{table}.{column}: original values survived"
            );
        }
    }
    // NULLs stay NULL; other columns are untouched.
    assert_eq!(
        source.sql("SELECT count(*) FROM public.users WHERE phone IS NULL"),
        target.sql("SELECT count(*) FROM public.users WHERE phone IS NULL")
    );
    let untouched = "SELECT id, date_of_birth, status, created_at FROM public.users";
    assert_eq!(
        source.rows(&format!("({untouched}) u")),
        target.rows(&format!("({untouched}) u"))
    );
    for table in [
        "public.orders",
        "public.order_items",
        "public.products",
        "public.addresses",
    ] {
        assert_eq!(source.rows(table), target.rows(table), "{table} must be identical");
    }
    // The unique email column restored cleanly with its constraint, and so did every FK and CHECK.
    assert_eq!(structure(&source), structure(&target));
    assert_eq!(target.count("SELECT count(*) FROM public.audit_log"), 0);
    assert_eq!(
        target.count("SELECT count(DISTINCT email) FROM public.users"),
        source.count("SELECT count(*) FROM public.users")
    );
    // Phone numbers keep their format: only digits change.
    let shape = |db: &TestDb| db.sql("SELECT regexp_replace(phone, '[0-9]', '9', 'g') FROM public.users ORDER BY id");
    assert_eq!(shape(&source), shape(&target));
}

#[test]
fn same_salt_gives_the_same_fakes_and_another_salt_does_not() {
    let source = sample_db("1");
    let ws = Workspace::new();
    let rules = "tables:\n  public.users:\n    columns:\n      email: email\n  public.audit_log: skip\n";
    ws.config(&source.url(), rules);
    ws.ok(&["dump", "create", "--name", "a"]);
    ws.ok(&["dump", "create", "--name", "b"]);
    let restore = |name: &str| {
        let target = TestDb::create("det");
        ws.ok(&["dump", "restore", name, "--to", &target.url()]);
        target.sql("SELECT email FROM public.users ORDER BY id")
    };
    let a = restore("a");
    assert_eq!(a, restore("b"));
    let config = std::fs::read_to_string(ws.path().join("decoy.yaml")).unwrap();
    std::fs::write(
        ws.path().join("decoy.yaml"),
        config.replace("test-salt-not-secret", "another-salt"),
    )
    .unwrap();
    ws.ok(&["dump", "create", "--name", "c"]);
    assert_ne!(a, restore("c"));
    // The salt never reaches the dump.
    for entry in walk(&ws.dumps()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !contains(&bytes, b"test-salt-not-secret") && !contains(&bytes, b"another-salt"),
            "{}",
            entry.display()
        );
    }
}

#[test]
fn transforming_a_key_rewrites_the_foreign_keys_that_reference_it() {
    let db = TestDb::create("fk");
    db.sql(
        "CREATE TABLE accounts (email text PRIMARY KEY, name text);\
         CREATE TABLE logins (id int PRIMARY KEY, account_email text REFERENCES accounts(email));\
         INSERT INTO accounts SELECT 'user' || i || '@corp.example', 'n' || i FROM generate_series(1, 500) i;\
         INSERT INTO logins SELECT i, 'user' || (i % 500 + 1) || '@corp.example' FROM generate_series(1, 2000) i;",
    );
    let target = TestDb::create("fk_copy");
    let ws = Workspace::new();
    ws.config(&db.url(), "tables:\n  accounts:\n    columns:\n      email: email\n");
    let plan = ws.ok(&["plan"]);
    assert!(
        plan.contains("account_email") && plan.contains("follows public.accounts.email"),
        "{plan}"
    );
    ws.ok(&["dump", "create"]);
    ws.ok(&["dump", "restore", "latest", "--to", &target.url()]);
    assert_eq!(
        target.count("SELECT count(*) FROM logins JOIN accounts ON accounts.email = logins.account_email"),
        2000
    );
    assert_eq!(
        target.count("SELECT count(*) FROM accounts WHERE email LIKE '%@corp.example'"),
        0
    );
    assert_eq!(
        target.count("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"),
        1
    );
}

#[test]
fn only_and_skip_select_tables_by_name_and_glob() {
    let source = sample_db("1");
    let target = TestDb::create("only");
    let ws = Workspace::new();
    ws.config(&source.url(), "only: [public.*]\ntables:\n  public.audit_*: skip\n");
    // billing.invoices references public.orders, not the other way round, so leaving billing out is fine.
    ws.ok(&["dump", "create"]);
    ws.ok(&["dump", "restore", "--to", &target.url()]);
    let tables = target.tables();
    assert!(!tables.iter().any(|t| t.starts_with("billing.")), "{tables:?}");
    assert!(tables.contains(&"public.audit_log".to_string()));
    assert_eq!(target.count("SELECT count(*) FROM public.audit_log"), 0);
    assert_eq!(
        target.count("SELECT count(*) FROM public.users"),
        source.count("SELECT count(*) FROM public.users")
    );
}

#[test]
fn list_verify_and_delete_manage_dumps() {
    let source = sample_db("1");
    let ws = Workspace::new();
    ws.config(&source.url(), "tables:\n  public.audit_log: skip\n");
    for name in ["d1", "d2", "d3"] {
        ws.ok(&["dump", "create", "--name", name]);
    }
    // A crashed run leaves a folder with its marker but without a manifest.
    ws.crashed_dump("d4");
    let list = ws.list();
    let names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["d4", "d3", "d2", "d1"], "newest first");
    assert_eq!(list[0]["status"], "incomplete");
    assert_eq!(list[1]["status"], "complete");
    let users = source.count("SELECT count(*) FROM public.users") as u64;
    assert!(list[1]["rows"].as_u64().unwrap() > users);
    assert!(list[1]["bytes"].as_u64().unwrap() > 0 && list[1]["tables"].as_u64().unwrap() >= 7);
    assert!(list[1]["created_at"].is_string());
    let text = ws.ok(&["dump", "list"]);
    assert!(text.contains("incomplete") && text.contains("d3"), "{text}");

    // `latest` is the newest complete dump, never the incomplete one.
    assert!(ws.ok(&["dump", "verify", "latest"]).contains("d3 is intact"));
    let err = ws.fails(&["dump", "verify", "d4"], 1);
    assert!(err.contains("incomplete"), "{err}");

    ws.ok(&["dump", "delete", "--keep-last", "2", "--incomplete"]);
    let names: Vec<String> = ws
        .list()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["d3", "d2"]);
    ws.ok(&["dump", "delete", "d2"]);
    assert!(ws
        .ok(&["dump", "delete", "--older-than", "1d"])
        .contains("nothing to delete"));
    ws.ok(&["dump", "delete", "latest"]);
    assert!(ws.list().is_empty());
}

#[test]
fn a_corrupted_chunk_fails_restore_and_verify_by_name() {
    let source = sample_db("1");
    let target = TestDb::create("corrupt");
    let ws = Workspace::new();
    ws.config(&source.url(), "tables:\n  public.audit_log: skip\n");
    ws.ok(&["dump", "create", "--name", "broken"]);
    let chunk = ws.dumps().join("broken/data/public.orders/000000.copy.zst");
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&chunk, bytes).unwrap();

    let err = ws.fails(&["dump", "verify", "broken"], 1);
    assert!(
        err.contains("broken/data/public.orders/000000.copy.zst") && err.contains("corrupted"),
        "{err}"
    );
    let err = ws.fails(&["dump", "restore", "broken", "--to", &target.url()], 1);
    assert!(
        err.contains("public.orders") && err.contains("000000.copy.zst"),
        "{err}"
    );
    // Nothing of the damaged table was loaded.
    assert_eq!(target.count("SELECT count(*) FROM public.orders"), 0);
    // A schema script is checked the same way.
    let script = ws.dumps().join("broken/schema/post-data.sql");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("DROP TABLE public.users;\n");
    std::fs::write(&script, text).unwrap();
    let err = ws.fails(&["dump", "verify", "broken"], 1);
    assert!(
        err.contains("broken/schema/post-data.sql is corrupted") && err.contains("2 problem(s)"),
        "{err}"
    );
}

#[test]
fn restore_refuses_a_non_empty_target_unless_clean() {
    let source = sample_db("1");
    let target = TestDb::create("clean");
    let ws = Workspace::new();
    ws.config(&source.url(), "tables:\n  public.audit_log: skip\n");
    ws.ok(&["dump", "create"]);
    ws.ok(&["dump", "restore", "--to", &target.url()]);
    let err = ws.fails(&["dump", "restore", "--to", &target.url()], 2);
    assert!(err.contains("--clean") && err.contains("public.orders"), "{err}");
    target.sql(
        "DELETE FROM public.order_items; INSERT INTO public.products (sku, name, price_cents) VALUES ('x', 'y', 1)",
    );
    ws.ok(&["dump", "restore", "--to", &target.url(), "--clean"]);
    assert_eq!(source.rows("public.products"), target.rows("public.products"));
    assert_eq!(source.rows("public.order_items"), target.rows("public.order_items"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn memory_stays_flat_when_the_table_is_ten_times_larger() {
    let peak = |rows: u32| -> u64 {
        let db = TestDb::create("mem");
        db.sql(&format!(
            "CREATE TABLE t (id int PRIMARY KEY, email text, body text);\
             INSERT INTO t SELECT i, 'u' || i || '@x.example', repeat(md5(i::text), 3) FROM generate_series(1, {rows}) i;"
        ));
        let ws = Workspace::new();
        ws.config(
            &db.url(),
            "tables:\n  t:\n    columns:\n      email: email\ndump:\n  chunk_size: 4MiB\n",
        );
        let summary: serde_json::Value = serde_json::from_str(&ws.ok(&["dump", "create", "--json"])).unwrap();
        assert_eq!(summary["rows"], rows);
        summary["peak_rss_bytes"].as_u64().unwrap()
    };
    let small = peak(60_000);
    let large = peak(600_000);
    // 600k rows are about 80 MiB of COPY text: holding the table would show up clearly.
    assert!(
        large < small + (24 << 20),
        "peak memory grew from {} MiB to {} MiB for a 10x table",
        small >> 20,
        large >> 20
    );
}

#[test]
fn a_damaged_manifest_is_listed_as_damaged_without_hiding_other_dumps() {
    let source = sample_db("0.1");
    let ws = Workspace::new();
    ws.config(&source.url(), "");
    ws.ok(&["dump", "create", "--name", "good"]);
    ws.ok(&["dump", "create", "--name", "later"]);
    std::fs::write(ws.dumps().join("later/manifest.json"), b"{ not json").unwrap();
    let list = ws.list();
    let status: Vec<(&str, &str)> = list
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(status, [("later", "damaged"), ("good", "complete")]);
    let err = ws.fails(&["dump", "verify", "later"], 1);
    assert!(err.contains("later") && err.contains("damaged"), "{err}");
    ws.ok(&["dump", "verify", "good"]);
}

#[test]
fn restoring_needs_neither_the_source_password_nor_the_salt() {
    let source = sample_db("0.1");
    let target = TestDb::create("no_secrets");
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "tables:\n  public.users:\n    columns:\n      email: email\n",
    );
    ws.ok(&["dump", "create"]);
    // The developer's copy of the config: secrets come from variables only the CronJob has.
    let config = format!(
        "source:\n  url: postgres://app:${{PROD_DB_PASSWORD_UNSET}}@prod.internal/app\ndatastore:\n  local:\n    path: {}\n\
         salt: ${{DECOY_SALT_UNSET_HERE}}\ntables:\n  public.users:\n    columns:\n      email: email\n",
        ws.dumps().display()
    );
    std::fs::write(ws.path().join("decoy.yaml"), config).unwrap();
    assert_eq!(ws.list().len(), 1);
    ws.ok(&["dump", "verify"]);
    ws.ok(&["dump", "restore", "--to", &target.url()]);
    assert_eq!(
        source.count("SELECT count(*) FROM public.users"),
        target.count("SELECT count(*) FROM public.users")
    );
    // Creating a dump still needs them, and says which.
    let err = ws.fails(&["dump", "create"], 2);
    assert!(err.contains("PROD_DB_PASSWORD_UNSET"), "{err}");
}

#[test]
fn a_table_of_several_chunks_is_restored_in_parts_and_a_bad_part_fails_the_restore() {
    let db = TestDb::create("parts");
    db.sql(
        "CREATE TABLE t (id int PRIMARY KEY, email text, body text);\
         INSERT INTO t SELECT i, 'u' || i || '@x.example', repeat(md5(i::text), 2) FROM generate_series(1, 80000) i;",
    );
    let ws = Workspace::new();
    ws.config(
        &db.url(),
        "tables:\n  t:\n    columns:\n      email: email\ndump:\n  chunk_size: 200kB\n",
    );
    ws.ok(&["dump", "create", "--name", "d"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.dumps().join("d/manifest.json")).unwrap()).unwrap();
    let chunks = manifest["tables"][0]["chunks"].as_array().unwrap().clone();
    assert!(
        chunks.len() >= 4,
        "several chunks (one per 1 MiB read batch at least): {}",
        chunks.len()
    );

    // Three connections load the table's chunks in three parts; every row arrives once.
    let target = TestDb::create("parts_copy");
    ws.ok(&["dump", "restore", "d", "--to", &target.url(), "--workers", "3"]);
    assert_eq!(target.count("SELECT count(*) FROM t"), 80000);
    assert_eq!(target.count("SELECT count(DISTINCT id) FROM t"), 80000);
    assert_eq!(
        db.rows("t")
            .iter()
            .map(|r| r.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        target
            .rows("t")
            .iter()
            .map(|r| r.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    );

    // A damaged chunk in the last part fails the whole restore, naming the chunk.
    let last = chunks.last().unwrap()["path"].as_str().unwrap().to_string();
    let path = ws.dumps().join("d").join(&last);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let again = TestDb::create("parts_bad");
    let err = ws.fails(&["dump", "restore", "d", "--to", &again.url(), "--workers", "3"], 1);
    assert!(
        err.contains(&last) && err.contains("restoring table public.t failed"),
        "{err}"
    );
}
