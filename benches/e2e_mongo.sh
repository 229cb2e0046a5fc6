#!/usr/bin/env bash
# End-to-end benchmark on the MongoDB-wire server (jongodb, the only one installable here): decoy
# dump create (users' email, names, street, contact emails and birth dates transformed) and decoy
# dump restore, with documents per second and the share of the wall time decoy itself spends on a
# CPU (user + system time of the decoy process / wall time); the rest is waiting on the server.
#
#   benches/e2e_mongo.sh [USERS]     # default 10000 users, 20000 orders, 1000 products
#   (jongodb's inserts slow down as a collection grows: 20000 users take 40 s to generate)
#
#   DECOY_BIN   use this decoy binary instead of `cargo build --release`
#   CARGO_TARGET_DIR  default /var/tmp/decoy-target (shared with scripts/test.sh)
#
# Target (from the MongoDB issue): decoy's own share of the wall time under a third, so the server
# and not decoy is the bottleneck.
set -euo pipefail

cd "$(dirname "$0")/.."

USERS="${1:-${USERS:-10000}}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/decoy-target}"
export DECOY_SALT="${DECOY_SALT:-decoy-bench-salt}"
URL=mongodb://127.0.0.1:27017
# jongodb keeps databases in memory and cannot drop them: fresh names per run.
RUN="$(date +%s)"
SRC_DB="decoy_bench_${RUN}"
COPY_DB="decoy_bench_${RUN}_copy"

log() { printf '==> %s\n' "$*" >&2; }
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/decoy-bench-mongo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

DECOY_SERVICES=mongo bash scripts/services.sh
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
python3 -c 'import pymongo' 2>/dev/null || pip install -q 'pymongo==4.10.1'
if [ -z "${DECOY_BIN:-}" ]; then
    log "building decoy (release)"
    cargo build --release --quiet
    DECOY_BIN="$CARGO_TARGET_DIR/release/decoy"
fi

log "generating $USERS users in $SRC_DB"
python3 benches/mongo_seed.py "$URL" "$SRC_DB" "$USERS"

cat >"$WORK/decoy.yaml" <<YAML
source:
  url: $URL/$SRC_DB
  collections: [users, orders, products]
datastore:
  local: { path: $WORK/dumps }
tables:
  users:
    columns:
      email: email
      name.first: first-name
      name.last: last-name
      address.street: street-address
      contacts[].email: email
      contacts[].number: phone-number
      born: { transformer: noise-date, max_days: 30 }
YAML

# Runs a command under GNU time; prints "wall user sys maxrss_kb".
measure() {
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
        cat "$WORK/err" >&2
        return 1
    }
    cat "$WORK/time"
}

docs=$((USERS * 3 + 1000))
report() {
    local step=$1 wall=$2 user=$3 sys=$4 rss=$5
    awk -v s="$step" -v w="$wall" -v u="$user" -v y="$sys" -v r="$rss" -v d="$docs" 'BEGIN {
        printf "| %s | %.2f | %d | %.0f%% | %.1f MB |\n", s, w, d / w, 100 * (u + y) / w, r / 1024 }'
}

echo
echo "| step | seconds | documents/s | decoy CPU share of wall time | peak decoy RSS |"
echo "| --- | --- | --- | --- | --- |"
read -r wall user sys rss < <(measure "$DECOY_BIN" -q dump create -c "$WORK/decoy.yaml" --name bench)
report "decoy dump create (7 paths transformed)" "$wall" "$user" "$sys" "$rss"
read -r wall user sys rss < <(measure "$DECOY_BIN" -q dump restore bench -c "$WORK/decoy.yaml" --to "$URL/$COPY_DB")
report "decoy dump restore (insertMany, then indexes)" "$wall" "$user" "$sys" "$rss"
echo
echo "$docs documents; dump stored $(du -sh "$WORK/dumps/bench" | cut -f1)"
