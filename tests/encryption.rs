//! Encrypted dumps (`encryption:` in the config) against the real PostgreSQL: passphrase and
//! public-key modes round trip, nothing readable is left in the files, and a wrong or missing key,
//! a changed manifest, a tampered or truncated chunk each fail restore and verify clearly.

mod common;

use std::path::{Path, PathBuf};

use common::{repo, TestDb, Workspace};

fn sample() -> TestDb {
    let db = TestDb::create("enc");
    db.load(&repo().join("fixtures/sample/schema.sql"), &[]);
    db.load(&repo().join("fixtures/sample/data.sql"), &[("scale", "0.1")]);
    db
}

fn keygen(ws: &Workspace, file: &str) -> (String, PathBuf) {
    let path = ws.path().join(file);
    let public = ws.ok(&["keygen", "--output", path.to_str().unwrap()]);
    (public.trim().to_string(), path)
}

/// Every file of a dump, as (path, bytes).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

fn restore_ok(ws: &Workspace, name: &str, extra: &[&str]) -> TestDb {
    let target = TestDb::create("enc_copy");
    let url = target.url();
    let mut args = vec!["dump", "restore", name, "--to", url.as_str()];
    args.extend_from_slice(extra);
    ws.ok(&args);
    target
}

#[test]
fn a_passphrase_dump_restores_with_the_passphrase_only() {
    let source = sample();
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        "encryption:\n  passphrase: correct horse battery staple\n",
    );
    ws.ok(&["dump", "create", "--name", "p"]);

    let dump = ws.dumps().join("p");
    assert!(dump.join("key.age").exists() && dump.join("manifest.json.age").exists());
    for (path, bytes) in files(&dump.join("data")).into_iter().chain(files(&dump.join("schema"))) {
        assert!(path.to_string_lossy().ends_with(".age"), "{}", path.display());
        assert!(
            bytes.starts_with(b"age-encryption.org/v1\n"),
            "{} is not an age file",
            path.display()
        );
    }
    let text = String::from_utf8_lossy(&std::fs::read(dump.join("schema/pre-data.sql.age")).unwrap()).into_owned();
    assert!(!text.contains("CREATE TABLE"), "schema scripts are encrypted");
    let manifest = std::fs::read_to_string(dump.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"mode\": \"passphrase\"") && !manifest.contains("correct horse"));

    let target = restore_ok(&ws, "p", &[]);
    for table in ["public.orders", "public.order_items", "billing.invoices"] {
        assert_eq!(source.rows(table), target.rows(table), "{table}");
    }
    assert!(ws.ok(&["dump", "verify", "p"]).contains("intact"));
    // Listing needs no key.
    assert!(ws.ok(&["dump", "list"]).contains("complete"));

    // Wrong passphrase; no passphrase at all.
    ws.config(&source.url(), "encryption:\n  passphrase: wrong\n");
    let err = ws.fails(&["dump", "verify", "p"], 2);
    assert!(
        err.contains("wrong passphrase") && !err.contains("correct horse"),
        "{err}"
    );
    ws.config(&source.url(), "");
    let err = ws.fails(&["dump", "restore", "p", "--output", "-"], 2);
    assert!(err.contains("encrypted with a passphrase"), "{err}");
}

#[test]
fn a_public_key_dump_needs_a_matching_identity() {
    let source = sample();
    let ws = Workspace::new();
    let (alice, alice_key) = keygen(&ws, "alice.key");
    let (bob, bob_key) = keygen(&ws, "bob.key");
    let (_, eve_key) = keygen(&ws, "eve.key");
    // The job that writes the dump holds only public keys.
    ws.config(&source.url(), &format!("encryption:\n  recipients: [{alice}, {bob}]\n"));
    ws.ok(&["dump", "create", "--name", "k"]);
    assert!(!ws.dumps().join("k/key.age").exists());

    let err = ws.fails(&["dump", "verify", "k"], 2);
    assert!(err.contains("--identity") && err.contains(&alice), "{err}");
    let err = ws.fails(&["dump", "verify", "k", "--identity", eve_key.to_str().unwrap()], 2);
    assert!(err.contains("does not match"), "{err}");
    for key in [&alice_key, &bob_key] {
        let target = restore_ok(&ws, "k", &["--identity", key.to_str().unwrap()]);
        assert_eq!(source.rows("public.orders"), target.rows("public.orders"));
    }
    // DECOY_IDENTITY works like --identity; a script restore decrypts too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_decoy"))
        .args(["dump", "restore", "k", "--output", "-"])
        .current_dir(ws.path())
        .env("DECOY_CONFIG", ws.path().join("decoy.yaml"))
        .env("DECOY_IDENTITY", &bob_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("COPY \"public\".\"orders\""));
    // A private key never shows in output.
    let secret = std::fs::read_to_string(&alice_key).unwrap();
    let secret = secret.lines().last().unwrap();
    assert!(secret.starts_with("AGE-SECRET-KEY-1"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));

    // Config mistakes are config errors that name the key.
    ws.config(&source.url(), "encryption:\n  recipients: [age1nope]\n");
    let err = ws.fails(&["dump", "create", "--name", "x"], 2);
    assert!(err.contains("encryption") && err.contains("entry 1"), "{err}");
    ws.config(
        &source.url(),
        &format!("encryption:\n  passphrase: a\n  recipients: [{alice}]\n"),
    );
    let err = ws.fails(&["dump", "create", "--name", "x"], 2);
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn tampering_with_an_encrypted_dump_is_detected() {
    let source = sample();
    let ws = Workspace::new();
    let (public, key) = keygen(&ws, "me.key");
    ws.config(&source.url(), &format!("encryption:\n  recipients: [{public}]\n"));
    ws.ok(&["dump", "create", "--name", "t"]);
    let identity = key.to_str().unwrap();
    let dump = ws.dumps().join("t");
    let manifest_path = dump.join("manifest.json");
    let original = std::fs::read(&manifest_path).unwrap();

    // A chunk replaced by another valid age file (re-encrypted to the same public key), with the
    // manifest's checksum updated to match: the manifest no longer matches its sealed copy.
    let chunk = files(&dump.join("data"))
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p.to_string_lossy().contains("public.orders"))
        .unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&original).unwrap();
    for table in manifest["tables"].as_array_mut().unwrap() {
        for c in table["chunks"].as_array_mut().unwrap() {
            c["sha256"] = serde_json::Value::String("0".repeat(64));
        }
    }
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let err = ws.fails(&["dump", "verify", "t", "--identity", identity], 1);
    assert!(err.contains("was changed after the dump was written"), "{err}");
    let target = TestDb::create("enc_tampered");
    let out = ws.decoy(&["dump", "restore", "t", "--to", &target.url(), "--identity", identity]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        target.tables(),
        Vec::<String>::new(),
        "nothing restored from a changed manifest"
    );
    std::fs::write(&manifest_path, &original).unwrap();

    // A truncated chunk: its size and checksum no longer match.
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() - 20]).unwrap();
    let err = ws.fails(&["dump", "verify", "t", "--identity", identity], 1);
    assert!(err.contains("public.orders"), "{err}");
    std::fs::write(&chunk, &bytes).unwrap();
    assert!(ws
        .ok(&["dump", "verify", "t", "--identity", identity])
        .contains("intact"));
}
