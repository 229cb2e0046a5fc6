#!/usr/bin/env bash
# Run the decoy test suite: start services, optionally lint, then cargo test.
#
#   scripts/test.sh [extra cargo test args...]   e.g. scripts/test.sh -- --nocapture
#   DECOY_LINT=1      run cargo fmt --check and clippy -D warnings before the tests
#   (scripts/check_deploy.sh, the Dockerfile/Helm/CD checks, always runs before cargo test)
#   DECOY_SERVICES    services to start (see scripts/services.sh), default "postgres mysql s3 mongo"
#   CARGO_TARGET_DIR  default /var/tmp/decoy-target, shared by CI clones so builds are reused
set -euo pipefail

cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/decoy-target}"
# Tests that need a salt get a fixed one, so runs are reproducible.
export DECOY_SALT="${DECOY_SALT:-decoy-test-salt}"
# Integration tests create their databases on this server (tests/common/mod.rs).
export DECOY_TEST_PG="${DECOY_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
export DECOY_TEST_MYSQL="${DECOY_TEST_MYSQL:-mysql://root@127.0.0.1:3306}"
# S3-compatible server (s3s-fs, access key and secret minioadmin); tests make a bucket each.
export DECOY_TEST_S3="${DECOY_TEST_S3:-http://127.0.0.1:8014}"
# MongoDB-wire server (jongodb, in memory); tests use fresh database names.
export DECOY_TEST_MONGO="${DECOY_TEST_MONGO:-mongodb://127.0.0.1:27017}"
export DECOY_SERVICES="${DECOY_SERVICES:-postgres mysql s3 mongo}"

bash scripts/services.sh

if [ "${DECOY_LINT:-0}" = "1" ]; then
    echo "==> cargo fmt --check"
    cargo fmt --all --check
    echo "==> cargo clippy"
    cargo clippy --workspace --all-targets -- -D warnings
fi

echo "==> deployment files (scripts/check_deploy.sh)"
bash scripts/check_deploy.sh

echo "==> cargo test (target dir: $CARGO_TARGET_DIR)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole workspace (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
