//! TLS with libpq's sslmode meanings, against the local server's own certificate (Debian's
//! PostgreSQL serves TLS with a self-signed "snakeoil" certificate for `localhost`).

mod common;

use common::{TestDb, Workspace};

fn server_certificate(db: &TestDb) -> String {
    assert_eq!(
        db.sql("SHOW ssl").trim(),
        "on",
        "these tests need the test server to offer TLS (ssl = on)"
    );
    db.sql("SHOW ssl_cert_file").trim().to_string()
}

#[test]
fn sslmodes_encrypt_and_verify_like_libpq() {
    let db = TestDb::create("tls");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, email text); INSERT INTO t VALUES (1, 'a@b.example')");
    let cert = server_certificate(&db);
    let ws = Workspace::new();
    let url = |host: &str, query: &str| format!("postgres://postgres@{host}:5432/{}?{query}", db.name);

    // require: encrypted, certificate not checked (libpq's meaning).
    ws.config(&url("127.0.0.1", "sslmode=require"), "");
    ws.ok(&["dump", "create", "--name", "over-tls"]);

    // verify-full against the server's own certificate and the name it carries.
    let target = TestDb::create("tls_copy");
    let full = format!(
        "postgres://postgres@localhost:5432/{}?sslmode=verify-full&sslrootcert={cert}",
        target.name
    );
    ws.ok(&["dump", "restore", "over-tls", "--to", &full]);
    assert_eq!(target.rows("t"), db.rows("t"));

    // verify-ca checks the chain but not the name, so the IP address is fine.
    ws.config(&url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={cert}")), "");
    ws.ok(&["plan"]);

    // A self-signed certificate is not trusted by the built-in roots...
    ws.config(&url("localhost", "sslmode=verify-full"), "");
    let err = ws.fails(&["plan"], 1);
    assert!(err.contains("certificate") && err.contains("UnknownIssuer"), "{err}");
    // ...and verify-full refuses a name the certificate does not carry.
    ws.config(
        &url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={cert}")),
        "",
    );
    let err = ws.fails(&["plan"], 1);
    assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");
    // A root certificate file that does not exist is named.
    ws.config(
        &url("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/root.crt"),
        "",
    );
    let err = ws.fails(&["plan"], 1);
    assert!(err.contains("/nonexistent/root.crt"), "{err}");
}
