//! `decoy plan` warnings and `decoy validate` against PostgreSQL.

mod common;

use common::{TestDb, Workspace};

fn people() -> TestDb {
    let db = TestDb::create("plan");
    db.sql(
        "CREATE TABLE people (id int PRIMARY KEY, email text, mobile text, contact text, secondary text, \
           status text, note text, iban_col text);\
         INSERT INTO people SELECT i, 'p' || i || '@corp.example', '+33 6 12 34 ' || lpad(i::text, 2, '0') || ' 00', \
           'c' || i || '@mail.example', 'd' || i || '@mail.example', 'active', 'likes tea', 'DE89 3704 0044 0532 0130 00' \
           FROM generate_series(1, 50) i;",
    );
    db
}

#[test]
fn plan_flags_kept_columns_that_look_like_personal_data() {
    let db = people();
    let ws = Workspace::new();
    ws.config(
        &db.url(),
        "tables:\n  people:\n    columns:\n      email: email\n      secondary: keep\n",
    );
    let plan = ws.ok(&["plan"]);
    let line = |column: &str| {
        plan.lines()
            .find(|l| l.trim_start().starts_with(column))
            .unwrap_or_default()
            .to_string()
    };
    assert!(!line("email").contains("personal data"), "transformed: {plan}");
    assert!(line("mobile").contains("a phone number"), "{plan}");
    assert!(
        line("contact").contains("an email address (100% of 50 sampled"),
        "{plan}"
    );
    assert!(line("iban_col").contains("an IBAN"), "{plan}");
    assert!(!line("secondary").contains("personal data"), "marked keep: {plan}");
    assert!(
        !line("status").contains("personal data") && !line("note").contains("personal data"),
        "{plan}"
    );
    assert!(plan.contains("3 kept column(s) look like personal data"), "{plan}");
}

#[test]
fn validate_shows_before_and_after_and_writes_nothing() {
    let db = people();
    let ws = Workspace::new();
    ws.config(&db.url(), "tables:\n  people:\n    columns:\n      email: email\n      mobile: { transformer: phone-number, keep_format: true }\n");
    let out = ws.ok(&["validate", "--rows", "3"]);
    assert!(
        out.contains("public.people") && out.contains("row 3") && !out.contains("row 4"),
        "{out}"
    );
    let email_lines: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("email")).collect();
    assert_eq!(email_lines.len(), 3, "{out}");
    for line in email_lines {
        let (before, after) = line.split_once("->").unwrap();
        assert!(before.contains("@corp.example"), "{line}");
        assert!(!after.contains("@corp.example") && after.contains('@'), "{line}");
    }
    assert!(out.contains("(phone-number)"), "{out}");
    assert!(!ws.dumps().exists() || std::fs::read_dir(ws.dumps()).unwrap().count() == 0);
    let none = ws.ok(&["validate", "--table", "nothing_*"]);
    assert!(none.contains("no transformed table"), "{none}");
}
