//! The datastore holds only what decoy made, and exit 0 means a dump that verifies: foreign
//! folders, names, creation-time order, concurrent runs (real processes), leases and copied dumps,
//! on a local datastore against the real PostgreSQL (tests/s3_datastore.rs does the same on S3).

mod common;

use std::process::{Child, Command, Stdio};

use common::{TestDb, Workspace};

fn small_db() -> TestDb {
    let db = TestDb::create("dstore");
    db.sql(
        "CREATE TABLE people (id int PRIMARY KEY, email text, note text);\
         INSERT INTO people SELECT i, 'p' || i || '@x.example', md5(i::text) FROM generate_series(1, 2000) i;",
    );
    db
}

fn big_db() -> TestDb {
    let db = TestDb::create("dstore_big");
    db.sql(
        "CREATE TABLE big (id int PRIMARY KEY, email text, payload text);\
         INSERT INTO big SELECT i, 'u' || i || '@x.example', repeat(md5(i::text), 8) FROM generate_series(1, 1500000) i;",
    );
    db
}

fn spawn(ws: &Workspace, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_decoy"))
        .args(args)
        .current_dir(ws.path())
        .env_remove("DECOY_SALT")
        .env("DECOY_CONFIG", ws.path().join("decoy.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("decoy starts")
}

#[test]
fn folders_decoy_did_not_make_are_never_listed_written_or_deleted() {
    let db = small_db();
    let ws = Workspace::new();
    ws.config(&db.url(), "");
    // The datastore path points at a working folder.
    let root = ws.dumps();
    for (path, text) in [
        ("src/main.rs", "fn main() {}"),
        (".git/config", "[core]"),
        ("notes/manifest.json", r#"{"name": "not decoy's"}"#),
        ("other/decoy-dump.json", r#"{"format": "something else"}"#),
        ("README", "hello"),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    std::fs::create_dir_all(root.join("lost+found")).unwrap();
    let before = tree(&root);

    assert!(ws.list().is_empty());
    assert!(ws.ok(&["dump", "delete", "--incomplete"]).contains("nothing to delete"));
    for foreign in ["src", "notes", "other", "lost+found"] {
        let err = ws.fails(&["dump", "delete", foreign], 2);
        assert!(err.contains(&format!("no dump named `{foreign}`")), "{err}");
    }
    for taken in ["src", "README", "notes", "other"] {
        let err = ws.fails(&["dump", "create", "--name", taken], 2);
        assert!(err.contains("not a dump decoy made"), "{taken}: {err}");
    }
    let err = ws.fails(&["dump", "delete", "--keep-last", "0"], 2);
    assert!(err.contains("keep-last"), "{err}");
    assert_eq!(tree(&root), before);

    // A dump beside them; a file someone put in the dump's folder survives its deletion.
    ws.ok(&["dump", "create", "--name", "d1"]);
    assert_eq!(ws.statuses(), [("d1".to_string(), "complete".to_string())]);
    std::fs::write(root.join("d1/NOTES.txt"), "mine").unwrap();
    ws.ok(&[
        "dump",
        "delete",
        "--keep-last",
        "1",
        "--older-than",
        "1d",
        "--incomplete",
    ]);
    let out = ws.ok(&["dump", "delete", "d1"]);
    assert!(out.contains("left 1 file"), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("d1/NOTES.txt")).unwrap(), "mine");
    assert!(ws.list().is_empty());
    let mut after = tree(&root);
    after.retain(|p| !p.starts_with("d1"));
    assert_eq!(after, before);
}

/// Every path under `root`, sorted.
fn tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            out.push(entry.path().strip_prefix(root).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn latest_list_order_and_retention_follow_creation_time_not_names() {
    let db = small_db();
    let ws = Workspace::new();
    ws.config(&db.url(), "");
    for name in ["zzz-old", "mmm-mid", "aaa-new"] {
        ws.ok(&["dump", "create", "--name", name]);
    }
    let order: Vec<String> = ws.statuses().into_iter().map(|(n, _)| n).collect();
    assert_eq!(order, ["aaa-new", "mmm-mid", "zzz-old"]);
    assert!(ws.ok(&["dump", "verify", "latest"]).contains("aaa-new is intact"));

    // A damaged dump is never latest and never counts as kept.
    std::fs::write(ws.dumps().join("aaa-new/manifest.json"), b"{ not json").unwrap();
    assert_eq!(ws.statuses()[0], ("aaa-new".to_string(), "damaged".to_string()));
    assert!(ws.ok(&["dump", "verify", "latest"]).contains("mmm-mid is intact"));
    ws.ok(&["dump", "delete", "--keep-last", "1"]);
    assert_eq!(
        ws.statuses(),
        [
            ("aaa-new".to_string(), "damaged".to_string()),
            ("mmm-mid".to_string(), "complete".to_string())
        ]
    );
}

#[test]
fn an_unknown_name_is_a_usage_error_that_lists_the_nearest() {
    let db = small_db();
    let ws = Workspace::new();
    ws.config(&db.url(), "");
    ws.ok(&["dump", "create", "--name", "nightly-1204"]);
    for command in [
        &["dump", "verify", "nightly-1240"][..],
        &["dump", "delete", "nightly-1240"],
    ] {
        let err = ws.fails(command, 2);
        assert!(
            err.contains("no dump named `nightly-1240`") && err.contains("did you mean `nightly-1204`"),
            "{err}"
        );
    }
    let err = ws.fails(&["dump", "restore", "zebra", "--output", "-"], 2);
    assert!(
        err.contains("no dump named `zebra`") && err.contains("nightly-1204"),
        "{err}"
    );
}

#[test]
fn concurrent_runs_never_share_a_folder_and_every_exit_0_verifies() {
    let db = small_db();
    let ws = Workspace::new();
    ws.config(&db.url(), "dump:\n  chunk_size: 20kB\n");
    // Same --name, four processes at once: one dump, and the runs that lost say so.
    let runs: Vec<Child> = (0..4)
        .map(|_| spawn(&ws, &["dump", "create", "--name", "same"]))
        .collect();
    let outcomes: Vec<_> = runs.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let won = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for lost in outcomes.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&lost.stderr);
        assert!(
            err.contains("same") && (err.contains("already exists") || err.contains("claimed")),
            "{err}"
        );
    }
    ws.ok(&["dump", "verify", "same"]);

    // Default names, four processes in the same instant: four dumps, each intact.
    let runs: Vec<Child> = (0..4).map(|_| spawn(&ws, &["dump", "create", "--json"])).collect();
    let mut made = Vec::new();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        made.push(summary["name"].as_str().unwrap().to_string());
    }
    made.sort();
    made.dedup();
    assert_eq!(made.len(), 4, "{made:?}");
    for name in &made {
        ws.ok(&["dump", "verify", name]);
    }
    assert_eq!(ws.list().len(), 5);
}

#[test]
fn delete_incomplete_spares_a_dump_being_written_and_force_fails_that_run() {
    let db = big_db();
    let ws = Workspace::new();
    ws.config(
        &db.url(),
        "tables:\n  big:\n    columns:\n      email: email\ndump:\n  chunk_size: 1MiB\n  lease: 30s\n",
    );
    let child = ws.start_dump("live", "public.big", 2);
    let out = ws.ok(&["dump", "delete", "--incomplete"]);
    assert!(out.contains("kept live: being written"), "{out}");
    let err = ws.fails(&["dump", "delete", "live"], 2);
    assert!(err.contains("being written") && err.contains("--force"), "{err}");
    let listed = ws.list();
    assert_eq!(listed[0]["being_written"], true, "{listed:?}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ws.ok(&["dump", "verify", "live"]);

    // --force deletes it under the writer, which must then fail instead of committing.
    let child = ws.start_dump("forced", "public.big", 2);
    ws.ok(&["dump", "delete", "--incomplete", "--force"]);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("forced") && err.contains("deleted"), "{err}");
    assert_eq!(ws.statuses(), [("live".to_string(), "complete".to_string())]);
    assert!(
        !ws.dumps().join("forced").exists(),
        "the failed run leaves nothing behind"
    );
}

#[test]
fn a_killed_dump_keeps_its_lease_until_it_expires() {
    let db = big_db();
    let ws = Workspace::new();
    ws.config(&db.url(), "dump:\n  chunk_size: 1MiB\n  lease: 3s\n");
    let mut child = ws.start_dump("victim", "public.big", 2);
    child.kill().unwrap(); // SIGKILL: no cleanup runs, the lease stops being renewed
    child.wait().unwrap();
    assert!(ws.ok(&["dump", "delete", "--incomplete"]).contains("kept victim"));
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let listed = ws.list();
    assert_eq!(listed[0]["status"], "incomplete");
    assert!(listed[0].get("being_written").is_none(), "{listed:?}");
    assert!(ws.ok(&["dump", "delete", "--incomplete"]).contains("deleted victim"));
    assert!(ws.list().is_empty());
    assert!(!ws.dumps().join("victim").exists());
}

#[test]
fn a_copied_dump_is_read_from_where_it_is() {
    let db = small_db();
    let ws = Workspace::new();
    ws.config(&db.url(), "");
    ws.ok(&["dump", "create", "--name", "orig"]);
    let status = Command::new("cp")
        .arg("-r")
        .arg(ws.dumps().join("orig"))
        .arg(ws.dumps().join("copy"))
        .status()
        .unwrap();
    assert!(status.success());
    let listed = ws.list();
    let copy = listed.iter().find(|d| d["name"] == "copy").unwrap();
    assert_eq!(copy["written_as"], "orig", "{listed:?}");
    assert!(ws.ok(&["dump", "list"]).contains("written as orig"));
    // Damage the copy only: verifying the copy must read the copy's files.
    let chunk = ws.dumps().join("copy/data/public.people/000000.copy.zst");
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&chunk, bytes).unwrap();
    let err = ws.fails(&["dump", "verify", "copy"], 1);
    assert!(err.contains("copy/data/public.people/000000.copy.zst"), "{err}");
    assert!(err.contains("was written as `orig`"), "{err}");
    ws.ok(&["dump", "verify", "orig"]);
}
