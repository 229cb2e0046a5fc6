//! Every dump command against a real S3-compatible server (s3s-fs, started by scripts/services.sh on
//! `DECOY_TEST_S3`, default http://127.0.0.1:8014, which checks SigV4 signatures). Each test makes
//! its own bucket and deletes it at the end.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use common::{repo, TestDb, Workspace};
use futures_util::StreamExt;

const ACCESS_KEY: &str = "minioadmin";
const SECRET_KEY: &str = "minioadmin";

fn endpoint() -> String {
    std::env::var("DECOY_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:8014".into())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A uniquely named bucket, emptied and deleted on drop.
struct Bucket {
    name: String,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    fn create(tag: &str) -> Bucket {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .http_client(http)
            .build();
        let client = Client::from_conf(config);
        let name = format!(
            "decoy-t-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        runtime
            .block_on(client.create_bucket().bucket(&name).send())
            .unwrap_or_else(|e| {
                panic!(
                    "cannot create bucket {name} on {} (is scripts/services.sh s3 running?): {}",
                    endpoint(),
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            });
        Bucket { name, client, runtime }
    }

    /// `datastore:` config text for this bucket.
    fn datastore(&self, prefix: &str, endpoint: &str, secret: &str) -> String {
        format!(
            "datastore:\n  s3:\n    bucket: {}\n    prefix: \"{prefix}\"\n    endpoint: {endpoint}\n    path_style: true\n\
             \x20   access_key_id: {ACCESS_KEY}\n    secret_access_key: \"{secret}\"\n",
            self.name
        )
    }

    /// Writes `decoy.yaml` in the workspace for this bucket.
    fn config(&self, ws: &Workspace, source_url: &str, prefix: &str, body: &str) {
        let text = format!(
            "source:\n  url: {source_url}\n{}salt: test-salt-not-secret\n{body}",
            self.datastore(prefix, &endpoint(), SECRET_KEY)
        );
        std::fs::write(ws.path().join("decoy.yaml"), text).unwrap();
    }

    fn objects(&self, prefix: &str) -> Vec<(String, i64)> {
        self.runtime.block_on(async {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(prefix)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                for o in page.unwrap().contents() {
                    out.push((o.key().unwrap().to_string(), o.size().unwrap_or(0)));
                }
            }
            out
        })
    }

    fn put_many(&self, keys: Vec<(String, Vec<u8>)>) {
        self.runtime.block_on(async {
            let results: Vec<_> = futures_util::stream::iter(keys)
                .map(|(key, body)| {
                    self.client
                        .put_object()
                        .bucket(&self.name)
                        .key(key)
                        .body(ByteStream::from(body))
                        .send()
                })
                .buffer_unordered(16)
                .collect()
                .await;
            for r in results {
                r.unwrap();
            }
        })
    }

    fn exists(&self, key: &str) -> bool {
        self.runtime
            .block_on(self.client.head_object().bucket(&self.name).key(key).send())
            .is_ok()
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        let keys: Vec<String> = self.objects("").into_iter().map(|(k, _)| k).collect();
        self.runtime.block_on(async {
            for batch in keys.chunks(1000) {
                let objects = batch
                    .iter()
                    .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
                    .collect();
                let delete = Delete::builder().set_objects(Some(objects)).build().unwrap();
                let _ = self
                    .client
                    .delete_objects()
                    .bucket(&self.name)
                    .delete(delete)
                    .send()
                    .await;
            }
            let _ = self.client.delete_bucket().bucket(&self.name).send().await;
        });
    }
}

fn sample_db(scale: &str) -> TestDb {
    let db = TestDb::create("s3sample");
    db.load(&repo().join("fixtures/sample/schema.sql"), &[]);
    db.load(&repo().join("fixtures/sample/data.sql"), &[("scale", scale)]);
    db
}

/// One table of incompressible-ish text: `rows` rows of about 70 bytes.
fn noise_db(rows: u64) -> TestDb {
    let db = TestDb::create("s3noise");
    db.sql(&format!(
        "CREATE TABLE public.noise (id int PRIMARY KEY, a text, b text); \
         INSERT INTO public.noise SELECT i, md5(i::text || 'a'), md5(i::text || 'b') FROM generate_series(1, {rows}) i"
    ));
    db
}

fn decoy(ws: &Workspace, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_decoy"))
        .args(args)
        .current_dir(ws.path())
        .env_remove("DECOY_SALT")
        .env("DECOY_CONFIG", ws.path().join("decoy.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("decoy starts")
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn create_list_verify_restore_delete_on_s3() {
    let source = sample_db("0.1");
    let target = TestDb::create("s3copy");
    let bucket = Bucket::create("e2e");
    let ws = Workspace::new();
    bucket.config(&ws, &source.url(), "team/app", "dump:\n  chunk_size: 200kB\n");

    let summary = ws.ok(&["dump", "create", "--name", "first"]);
    assert!(summary.contains("dump first complete"), "{summary}");
    let objects = bucket.objects("");
    assert!(
        objects.iter().all(|(k, _)| k.starts_with("team/app/first/")),
        "{objects:?}"
    );
    assert!(bucket.exists("team/app/first/manifest.json"));
    assert!(objects.len() > 5, "{objects:?}");

    let list = ws.list();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "first");
    assert_eq!(list[0]["status"], "complete");
    let stored: i64 = objects.iter().map(|(_, size)| size).sum();
    assert_eq!(list[0]["bytes"].as_i64(), Some(stored), "{list:?}");

    let verify = ws.ok(&["dump", "verify", "latest"]);
    assert!(verify.contains("first"), "{verify}");
    ws.ok(&["dump", "restore", "latest", "--to", &target.url()]);
    let tables = source.tables();
    assert!(tables.len() >= 3, "{tables:?}");
    assert_eq!(tables, target.tables());
    for table in &tables {
        // Rows are transformed only where the config says so; it says nothing here.
        assert_eq!(
            source.rows(table),
            target.rows(table),
            "table {table} differs after restore"
        );
    }

    ws.ok(&["dump", "delete", "first"]);
    assert!(ws.list().is_empty());
    assert!(bucket.objects("").is_empty(), "{:?}", bucket.objects(""));
}

#[test]
fn chunks_larger_than_a_part_go_multipart_and_read_back_identical() {
    // About 35 MB of hex text in one chunk: about 18 MB compressed, so three 8 MiB parts.
    let source = noise_db(500_000);
    let target = TestDb::create("s3bigcopy");
    let bucket = Bucket::create("multipart");
    let ws = Workspace::new();
    bucket.config(&ws, &source.url(), "", "dump:\n  chunk_size: 256MiB\n");
    ws.ok(&["dump", "create", "--name", "big"]);
    let chunks: Vec<_> = bucket
        .objects("big/data/")
        .into_iter()
        .filter(|(k, _)| k.contains("public.noise/"))
        .collect();
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    assert!(
        chunks[0].1 > 16 << 20,
        "the chunk should span several 8 MiB parts: {chunks:?}"
    );
    // verify re-reads every byte and checks the SHA-256 recorded when it was written.
    ws.ok(&["dump", "verify", "big"]);
    ws.ok(&["dump", "restore", "big", "--to", &target.url()]);
    let digest = "SELECT count(*) || ' ' || md5(string_agg(a || b, ',' ORDER BY id)) FROM public.noise";
    assert_eq!(source.sql(digest), target.sql(digest));
}

#[test]
fn listing_and_deleting_page_past_a_thousand_dumps() {
    let bucket = Bucket::create("pages");
    let ws = Workspace::new();
    std::fs::write(
        ws.path().join("decoy.yaml"),
        bucket.datastore("many", &endpoint(), SECRET_KEY),
    )
    .unwrap();
    // 1,005 incomplete dumps (a marker, no manifest), and folders and objects that are not dumps.
    // One object each: s3s-fs walks the whole bucket for every listing, so fewer files keep it fast.
    let marker = |name: &str| {
        format!(
            r#"{{"format":"decoy-dump","format_version":1,"name":"{name}","run_id":"00","created_at":"2026-01-01T00:00:00Z","tool":"decoy","host":"h","pid":1}}"#
        )
        .into_bytes()
    };
    let mut keys: Vec<(String, Vec<u8>)> = (0..1005)
        .map(|i| {
            (
                format!("many/inc-{i:04}/decoy-dump.json"),
                marker(&format!("inc-{i:04}")),
            )
        })
        .collect();
    keys.push(("many/.hidden/x".into(), b"x".to_vec()));
    keys.push(("many/loose-object".into(), b"x".to_vec()));
    keys.push(("many/not-a-dump/key.age".into(), b"x".to_vec()));
    keys.push(("elsewhere/inc-0001/x".into(), b"x".to_vec()));
    bucket.put_many(keys);

    let started = std::time::Instant::now();
    let list = ws.statuses();
    eprintln!("dump list of 1,005 dumps: {:?}", started.elapsed());
    assert_eq!(list.len(), 1005, "{:?}", &list[..list.len().min(5)]);
    assert!(list.iter().all(|(_, status)| status == "incomplete"));
    assert!(list.iter().any(|(name, _)| name == "inc-1004"));

    let started = std::time::Instant::now();
    ws.ok(&["dump", "delete", "--incomplete"]);
    eprintln!("dump delete --incomplete of 1,005 dumps: {:?}", started.elapsed());
    assert!(ws.list().is_empty());
    let left: Vec<String> = bucket.objects("").into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        left,
        [
            "elsewhere/inc-0001/x",
            "many/.hidden/x",
            "many/loose-object",
            "many/not-a-dump/key.age"
        ]
    );
}

#[test]
fn wrong_credentials_missing_bucket_and_no_server_are_explained() {
    let bucket = Bucket::create("auth");
    let ws = Workspace::new();
    let secret = "not-the-secret-Zq81x";
    let write = |text: String| std::fs::write(ws.path().join("decoy.yaml"), text).unwrap();

    // `dump create` checks the datastore before it touches the source.
    write(format!(
        "source:\n  url: postgres://127.0.0.1:1/none\nsalt: s\n{}",
        bucket.datastore("", &endpoint(), secret)
    ));
    for args in [
        &["dump", "list"][..],
        &["dump", "restore", "latest", "--output", "-"][..],
        &["dump", "create"][..],
    ] {
        let out = ws.decoy(args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}: {all}");
        assert!(
            all.contains("invalid credentials") && all.contains(&bucket.name),
            "{args:?}: {all}"
        );
        assert!(!all.contains(secret), "{args:?} printed the secret: {all}");
    }
    // A wrong access key id is refused the same way.
    write(
        bucket
            .datastore("", &endpoint(), SECRET_KEY)
            .replace(&format!("access_key_id: {ACCESS_KEY}"), "access_key_id: NOSUCHKEY"),
    );
    let err = ws.fails(&["dump", "list"], 1);
    assert!(err.contains("invalid credentials"), "{err}");

    let missing = format!("{}-missing", bucket.name);
    write(
        bucket
            .datastore("", &endpoint(), SECRET_KEY)
            .replace(&bucket.name, &missing),
    );
    let err = ws.fails(&["dump", "list"], 1);
    assert!(
        err.contains(&missing) && err.contains("does not exist") && err.contains("create it"),
        "{err}"
    );

    // Nothing listens on a just-closed port.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{port}");
    write(bucket.datastore("", &dead, SECRET_KEY));
    let err = ws.fails(&["dump", "list"], 1);
    assert!(err.contains(&format!("cannot reach the S3 endpoint {dead}")), "{err}");
}

/// A TCP proxy to the S3 server that cuts every connection, and refuses new ones, once `limit`
/// bytes went upstream: the network failing in the middle of a dump.
struct CuttingProxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    fn start(upstream: String, limit: u64) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let flag = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: connection closed at once
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                open.lock().unwrap().push(client.try_clone().unwrap());
                open.lock().unwrap().push(server.try_clone().unwrap());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (flag, sent, open) = (flag.clone(), sent.clone(), open.clone());
                // Upstream direction, counted; the cut closes every socket the proxy holds.
                std::thread::spawn(move || {
                    pump(client, server, |n| {
                        if sent.fetch_add(n, Ordering::SeqCst) + n > limit && !flag.swap(true, Ordering::SeqCst) {
                            for s in open.lock().unwrap().iter() {
                                let _ = s.shutdown(Shutdown::Both);
                            }
                        }
                    })
                });
                std::thread::spawn(move || pump(s2, c2, |_| {}));
            }
        });
        CuttingProxy { port, cut }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, mut counted: impl FnMut(u64)) {
    let mut buf = [0u8; 16 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                counted(n as u64);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn a_network_failure_mid_upload_leaves_no_complete_dump() {
    // About 21 MB in 1 MiB chunks: the proxy cuts after 3 MB went out.
    let source = noise_db(300_000);
    let bucket = Bucket::create("netfail");
    let upstream = endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = CuttingProxy::start(upstream, 3 << 20);
    let ws = Workspace::new();
    let text = format!(
        "source:\n  url: {}\n{}salt: s\ndump:\n  chunk_size: 1MiB\n",
        source.url(),
        bucket.datastore("", &format!("http://127.0.0.1:{}", proxy.port), SECRET_KEY)
    );
    std::fs::write(ws.path().join("decoy.yaml"), text).unwrap();
    let err = ws.fails(&["dump", "create", "--name", "cut"], 1);
    assert!(proxy.cut.load(Ordering::SeqCst), "the proxy never cut: {err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}", proxy.port)),
        "the error should name the endpoint: {err}"
    );
    assert!(!bucket.exists("cut/manifest.json"));

    // Straight to the server: the dump is incomplete (or gone), never complete.
    bucket.config(&ws, &source.url(), "", "");
    let list = ws.statuses();
    assert!(list.iter().all(|(_, status)| status == "incomplete"), "{list:?}");
    // The run could not give its lease up through the cut connection: it still looks alive.
    ws.ok(&["dump", "delete", "--incomplete", "--force"]);
    assert!(bucket.objects("").is_empty());
}

#[test]
fn two_dumps_at_once_into_one_bucket_both_complete() {
    let source = sample_db("0.1");
    let bucket = Bucket::create("concurrent");
    let ws = Workspace::new();
    bucket.config(&ws, &source.url(), "shared", "dump:\n  chunk_size: 100kB\n");
    let a = decoy(&ws, &["dump", "create", "--name", "run-a"]);
    let b = decoy(&ws, &["dump", "create", "--name", "run-b"]);
    assert_ok(&a.wait_with_output().unwrap(), "run-a");
    assert_ok(&b.wait_with_output().unwrap(), "run-b");
    let mut list = ws.statuses();
    list.sort();
    assert_eq!(
        list,
        [
            ("run-a".to_string(), "complete".to_string()),
            ("run-b".to_string(), "complete".to_string())
        ]
    );
    ws.ok(&["dump", "verify", "run-a"]);
    ws.ok(&["dump", "verify", "run-b"]);
}

/// Several processes claim one name at once, with the store's conditional writes and with the
/// election decoy falls back to: exactly one run succeeds, the others exit 1 or 2 without touching
/// its files, and the winner's dump verifies.
#[test]
fn runs_racing_for_one_name_leave_one_dump_that_verifies() {
    let source = noise_db(20_000);
    for conditional in ["", "    conditional_writes: false\n"] {
        let bucket = Bucket::create("race");
        let ws = Workspace::new();
        let text = format!(
            "source:\n  url: {}\n{}{conditional}salt: test-salt-not-secret\ndump:\n  chunk_size: 100kB\n",
            source.url(),
            bucket.datastore("team", &endpoint(), SECRET_KEY)
        );
        std::fs::write(ws.path().join("decoy.yaml"), text).unwrap();
        let runs: Vec<_> = (0..3)
            .map(|_| decoy(&ws, &["dump", "create", "--name", "same"]))
            .collect();
        let outcomes: Vec<Output> = runs.into_iter().map(|r| r.wait_with_output().unwrap()).collect();
        let won = outcomes.iter().filter(|o| o.status.success()).count();
        // With the election, runs that see each other's claims may all give up: never two winners.
        if conditional.is_empty() {
            assert_eq!(won, 1, "{conditional}: {outcomes:?}");
        } else {
            assert!(won <= 1, "{conditional}: {outcomes:?}");
        }
        for lost in outcomes.iter().filter(|o| !o.status.success()) {
            let err = String::from_utf8_lossy(&lost.stderr);
            assert!(matches!(lost.status.code(), Some(1 | 2)), "{err}");
            assert!(err.contains("already exists") || err.contains("claimed"), "{err}");
        }
        if won == 1 {
            ws.ok(&["dump", "verify", "same"]);
            assert_eq!(ws.statuses(), [("same".to_string(), "complete".to_string())]);
        } else {
            assert!(ws.statuses().is_empty(), "{conditional}");
        }
        // The losers leave no claim behind.
        let claims: Vec<_> = bucket.objects("team/same/claim-");
        assert!(claims.len() <= 1, "{claims:?}");
    }
}

/// A prefix shared with other objects: decoy lists, names and deletes only its dumps, and inside a
/// dump's folder only its own files.
#[test]
fn objects_decoy_did_not_write_are_never_listed_or_deleted() {
    let source = noise_db(1000);
    let bucket = Bucket::create("shared");
    let ws = Workspace::new();
    bucket.config(&ws, &source.url(), "team", "");
    bucket.put_many(vec![
        ("team/src/main.rs".into(), b"fn main() {}".to_vec()),
        ("team/reports/manifest.json".into(), b"{\"report\": 1}".to_vec()),
        ("team/readme.txt".into(), b"x".to_vec()),
    ]);
    assert!(ws.list().is_empty());
    let err = ws.fails(&["dump", "delete", "src"], 2);
    assert!(err.contains("no dump named `src`"), "{err}");
    let err = ws.fails(&["dump", "create", "--name", "reports"], 2);
    assert!(err.contains("not a dump decoy made"), "{err}");
    ws.ok(&["dump", "create", "--name", "d1"]);
    bucket.put_many(vec![("team/d1/extra/notes.txt".into(), b"mine".to_vec())]);
    ws.ok(&["dump", "delete", "--incomplete", "--keep-last", "1"]);
    let out = ws.ok(&["dump", "delete", "d1"]);
    assert!(out.contains("left 1 file"), "{out}");
    let left: Vec<String> = bucket.objects("").into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        left,
        [
            "team/d1/extra/notes.txt",
            "team/readme.txt",
            "team/reports/manifest.json",
            "team/src/main.rs"
        ]
    );
}
