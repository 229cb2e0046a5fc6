//! `decoy dump restore --local IMAGE`: what can be checked without a Docker engine. The command
//! construction is unit-tested in src/local_container.rs; here the binary's answers when the image
//! does not fit the dump and when no engine is reachable.

mod common;

use std::process::Command;

use common::{repo, Workspace};

fn sample_dump() -> Workspace {
    let ws = Workspace::new();
    ws.config("postgres://u:${NOT_SET_ANYWHERE}@nowhere/db", "");
    let file = repo().join("fixtures/sample/sample.pgdump.sql");
    ws.ok(&["dump", "create", "--from-file", file.to_str().unwrap(), "--name", "d1"]);
    ws
}

fn restore_local(ws: &Workspace, image: &str, path: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_decoy"));
    cmd.args(["dump", "restore", "d1", "--local", image])
        .current_dir(ws.path())
        .env("DECOY_CONFIG", ws.path().join("decoy.yaml"))
        // An address where no engine listens, whatever this machine has.
        .env("DOCKER_HOST", "unix:///nonexistent/decoy-test-docker.sock");
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.output().expect("decoy runs")
}

#[test]
fn an_image_of_another_engine_is_a_usage_error() {
    let ws = sample_dump();
    for image in ["mysql:8", "mariadb:11", "mongo:7"] {
        let out = restore_local(&ws, image, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{image}: {err}");
        assert!(err.contains("PostgreSQL") || err.contains("postgresql"), "{err}");
        assert!(err.contains("postgres:16"), "{err}");
    }
    let out = restore_local(&ws, "redis:7", None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell which database"));
}

#[test]
fn no_docker_engine_is_a_clear_runtime_error() {
    let ws = sample_dump();
    let out = restore_local(&ws, "postgres:16", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no Docker engine is reachable"), "{err}");
    assert!(err.contains("--to URL"), "{err}");

    // Without the docker command at all.
    let empty = ws.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = restore_local(&ws, "postgres:16", Some(empty.to_str().unwrap()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no Docker engine is reachable") && err.contains("docker command"),
        "{err}"
    );
}
