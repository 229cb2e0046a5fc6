//! Conditional rules, rule lists, shared rules and templates, end to end against PostgreSQL.

mod common;

use common::{TestDb, Workspace};

#[test]
fn conditions_shared_rules_and_templates_work_together() {
    let source = TestDb::create("rules");
    source.sql(
        "CREATE TABLE customers (id int PRIMARY KEY, first_name text, last_name text, email text, country text);\
         CREATE TABLE staff (id int PRIMARY KEY, first_name text);\
         INSERT INTO customers SELECT i, (ARRAY['Alice','Bruno','Chloe','Dmitri'])[i % 4 + 1], 'Last' || i,\
           'real' || i || '@corp.example', (ARRAY['FR','US','DE'])[i % 3 + 1] FROM generate_series(1, 300) i;\
         INSERT INTO staff SELECT i, (ARRAY['Alice','Bruno','Chloe','Dmitri'])[i % 4 + 1] FROM generate_series(1, 8) i;",
    );
    let target = TestDb::create("rules_copy");
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "rules:\n  fake-first: { transformer: first-name }\n\
         tables:\n  customers:\n    columns:\n      first_name:\n\
         \x20       - { transformer: first-name, locale: fr, when: \"country = 'FR'\" }\n\
         \x20       - { rule: fake-first }\n\
         \x20     last_name: { transformer: last-name, when: \"country IN ('FR', 'DE')\" }\n\
         \x20     email: { transformer: template, template: \"{{first_name|slug}}.{{last_name|slug}}@example.com\" }\n\
         \x20 staff:\n    columns:\n      first_name: { rule: fake-first }\n",
    );
    let plan = ws.ok(&["plan"]);
    assert!(
        plan.contains("first-name when country = 'FR'; otherwise first-name (rule fake-first)"),
        "{plan}"
    );
    ws.ok(&["dump", "create"]);
    ws.ok(&["dump", "restore", "--to", &target.url()]);

    // Rows no `when` matches keep their value; the others are transformed.
    assert_eq!(
        target
            .sql("SELECT count(*) FROM customers WHERE country = 'US' AND last_name LIKE 'Last%'")
            .trim(),
        "100"
    );
    assert_eq!(
        target
            .sql("SELECT count(*) FROM customers WHERE country <> 'US' AND last_name LIKE 'Last%'")
            .trim(),
        "0"
    );
    // The template sees the fake names, not the real ones.
    let mismatches = target.sql(
        "SELECT count(*) FROM customers WHERE first_name ~ '^[A-Za-z]+$' AND last_name ~ '^[A-Za-z0-9]+$' \
         AND email <> lower(first_name) || '.' || lower(last_name) || '@example.com'",
    );
    assert_eq!(mismatches.trim(), "0");
    assert_eq!(
        target
            .sql("SELECT count(*) FROM customers WHERE email LIKE '%corp.example'")
            .trim(),
        "0"
    );
    // A shared rule gives the same fake to the same input in two tables...
    let non_fr_alice = target.sql("SELECT DISTINCT first_name FROM customers WHERE id % 4 = 0 AND country <> 'FR'");
    assert_eq!(non_fr_alice.lines().count(), 1, "deterministic: one fake for Alice");
    let staff_alice = target.sql("SELECT DISTINCT first_name FROM staff WHERE id % 4 = 0");
    assert_eq!(staff_alice, non_fr_alice);
    // ...and the French rule is a different rule.
    let fr_alice = target.sql("SELECT DISTINCT first_name FROM customers WHERE id % 4 = 0 AND country = 'FR'");
    assert_eq!(fr_alice.lines().count(), 1);
    assert_ne!(fr_alice, non_fr_alice);
}

#[test]
fn rule_mistakes_are_config_errors() {
    let db = TestDb::create("rules_bad");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, a text, b text); CREATE TABLE r (id int PRIMARY KEY, t_id int REFERENCES t(id))");
    let ws = Workspace::new();
    for (body, needle) in [
        (
            "tables:\n  t:\n    columns:\n      a: { transformer: template, template: \"{{nope}}\" }\n",
            "reads column `nope`",
        ),
        (
            "tables:\n  t:\n    columns:\n      a: { transformer: hash, when: \"nope = 1\" }\n",
            "reads column `nope`",
        ),
        (
            "tables:\n  t:\n    columns:\n      a: { transformer: hash, when: \"a = \" }\n",
            "`when`: expected a value",
        ),
        (
            "tables:\n  t:\n    columns:\n      id: { transformer: random, when: \"a = 'x'\" }\n",
            "cannot be, because those columns",
        ),
    ] {
        ws.config(&db.url(), body);
        let err = ws.fails(&["plan"], 2);
        assert!(err.contains(needle), "{body}: {err}");
    }
}
