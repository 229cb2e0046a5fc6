#!/usr/bin/env bash
# End-to-end benchmark on MariaDB: decoy dump/restore next to mysqldump --single-transaction | zstd
# and the replay of that dump through the mariadb client, plus a plain SELECT of every table (the
# streaming limit), on the same generated database (fixtures/sample/mysql.sql).
#
#   benches/e2e_mysql.sh [SCALE]    # or SCALE=N benches/e2e_mysql.sh
#
#   SCALE       sample-data scale; default 94, about 2.0 million rows
#               (fixtures/sample/mysql.sql makes ~21,300 rows per unit of scale)
#   DECOY_BIN   use this decoy binary instead of `cargo build --release`
#   KEEP=1      keep the databases and the work directory for inspection
#   CARGO_TARGET_DIR  default /var/tmp/decoy-target (shared with scripts/test.sh)
#
# Targets (from the MySQL support issue): decoy dump at least as fast as
# `mysqldump --single-transaction | zstd`, and decoy restore at least 3x faster than replaying that
# mysqldump output.
#
# Reports wall seconds and peak RSS of the client process (/usr/bin/time): work
# done inside the MariaDB server is in the wall time but not in the RSS.
# Exits non-zero if any step failed (the other steps still run and print).
set -euo pipefail

cd "$(dirname "$0")/.."

SCALE="${1:-${SCALE:-94}}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/decoy-target}"
export DECOY_SALT="${DECOY_SALT:-decoy-bench-salt}"
MY_HOST=127.0.0.1
MY_PORT=3306
MY_USER=root
MY_URL="mysql://$MY_USER@$MY_HOST:$MY_PORT"

SRC_DB=decoy_bench_my
DECOY_DB=decoy_bench_my_restored_decoy
DUMP_DB=decoy_bench_my_restored_dump

log() { printf '==> %s\n' "$*" >&2; }
my() { mariadb -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" "$@"; }
my_val() { my -N -B "$@"; }
drop_db() { my -e "DROP DATABASE IF EXISTS \`$1\`"; }
recreate_db() { drop_db "$1" && my -e "CREATE DATABASE \`$1\` CHARACTER SET utf8mb4"; }

WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/decoy-bench-my.XXXXXX")"
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [ "${KEEP:-0}" = "1" ]; then
        log "KEEP=1: kept databases $SRC_DB $DECOY_DB $DUMP_DB and $WORK"
    else
        for db in "$SRC_DB" "$DECOY_DB" "$DUMP_DB"; do
            drop_db "$db" >/dev/null 2>&1 || true
        done
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- prerequisites

DECOY_SERVICES=mysql bash scripts/services.sh
APT_UPDATED=0
apt_install() {
    log "installing $* (apt)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
# GNU time gives peak RSS; the shell keyword does not.
[ -x /usr/bin/time ] || apt_install time
command -v zstd >/dev/null 2>&1 || apt_install zstd
if command -v mysqldump >/dev/null 2>&1; then
    MYSQLDUMP=mysqldump
elif command -v mariadb-dump >/dev/null 2>&1; then
    MYSQLDUMP=mariadb-dump
else
    log "neither mysqldump nor mariadb-dump is installed"
    exit 1
fi

if [ -n "${DECOY_BIN:-}" ]; then
    DECOY="$DECOY_BIN"
else
    log "building decoy (release; CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    cargo build --release --bin decoy
    DECOY="$CARGO_TARGET_DIR/release/decoy"
fi
[ -x "$DECOY" ] || { log "no decoy binary at $DECOY"; exit 1; }

# ---------------------------------------------------------------- source database

log "creating $SRC_DB at scale $SCALE"
recreate_db "$SRC_DB"
my -e "SET @scale = $SCALE; \\. fixtures/sample/mysql.sql" "$SRC_DB"

# Base tables with rows (views would be counted twice).
TABLES_SQL="SELECT table_name FROM information_schema.tables
            WHERE table_schema = '$SRC_DB' AND table_type = 'BASE TABLE' ORDER BY 1"
mapfile -t TABLES < <(my_val -e "$TABLES_SQL")
[ "${#TABLES[@]}" -gt 0 ] || { log "$SRC_DB has no tables"; exit 1; }

# Write the loaded pages to disk now (as CHECKPOINT does for PostgreSQL), so the first timed
# step does not compete with the page cleaner, and warm the buffer pool.
# shellcheck disable=SC2016  # backticks quote MySQL identifiers
table_list="$(printf '`%s`,' "${TABLES[@]}")"
my -e "FLUSH TABLES ${table_list%,} FOR EXPORT; UNLOCK TABLES; ANALYZE TABLE ${table_list%,}" \
    "$SRC_DB" >/dev/null

count_rows() {
    local db="$1" t total=0 n
    for t in "${TABLES[@]}"; do
        n="$(my_val -e "SELECT count(*) FROM \`$db\`.\`$t\`" 2>/dev/null || echo 0)"
        total=$((total + n))
    done
    echo "$total"
}
ROWS="$(count_rows "$SRC_DB")"
AUDIT_ROWS="$(my_val -e "SELECT count(*) FROM \`$SRC_DB\`.audit_log")"
DB_BYTES="$(my_val -e "SELECT sum(data_length + index_length) FROM information_schema.tables
                       WHERE table_schema = '$SRC_DB'")"
log "$SRC_DB: ${#TABLES[@]} tables, $ROWS rows, $((DB_BYTES / 1000000)) MB on disk"

# The sample config (fixtures/sample/decoy.yaml) for MySQL: keys name tables of the URL's database.
CONFIG="$WORK/decoy.yaml"
cat >"$CONFIG" <<YAML
source:
  url: $MY_URL/$SRC_DB

datastore:
  local:
    path: $WORK/store

salt: \${DECOY_SALT}

tables:
  users:
    columns:
      email: { transformer: email, keep_domain: true }
      first_name: first-name
      last_name: last-name
      phone: { transformer: phone-number, keep_format: true }

  addresses:
    columns:
      street: redacted

  invoices:
    columns:
      card_number: credit-card
      cardholder: full-name

  # Not needed in a copy: no rows are dumped.
  audit_log: skip
YAML

# One SELECT per table in a single client session, tab-separated and unbuffered (--quick):
# the rate at which rows can leave the server.
SELECT_SQL="$WORK/select_all.sql"
for t in "${TABLES[@]}"; do
    # shellcheck disable=SC2016  # backticks quote MySQL identifiers
    printf 'SELECT * FROM `%s`;\n' "$t"
done >"$SELECT_SQL"

# ---------------------------------------------------------------- timed steps

declare -A SECS RSS STATUS
STEPS=()
FAILED=0

# measure NAME CMD...: time CMD, keep its output in $WORK/NAME.log.
measure() {
    local name="$1"
    shift
    STEPS+=("$name")
    log "timing: $name"
    if /usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1; then
        STATUS[$name]=ok
    else
        STATUS[$name]=FAILED
        FAILED=1
        log "$name FAILED; last lines of its output:"
        tail -n 15 "$WORK/$name.log" | sed 's/^/    /' >&2
    fi
    # The last line holds "seconds kB" (earlier lines may be a "Command exited" note).
    read -r "SECS[$name]" "RSS[$name]" < <(tail -n 1 "$WORK/$name.time" 2>/dev/null) || true
}

DUMP_STEP="mysqldump | zstd -3"
REPLAY_STEP="replay (mariadb)"

measure "decoy dump create" "$DECOY" dump create -c "$CONFIG"
# shellcheck disable=SC2016  # $1..$6 expand in the inner bash
measure "$DUMP_STEP" bash -c \
    'set -o pipefail; "$1" -h "$2" -P "$3" -u "$4" --single-transaction "$5" | zstd -q -3 >"$6"' \
    _ "$MYSQLDUMP" "$MY_HOST" "$MY_PORT" "$MY_USER" "$SRC_DB" "$WORK/dump.sql.zst"
# wc -c discards the stream like /dev/null and gives the MB/s basis.
# shellcheck disable=SC2016  # $1..$6 expand in the inner bash
measure "SELECT * (mariadb -B)" bash -c \
    'set -o pipefail; mariadb -h "$1" -P "$2" -u "$3" --quick -N -B "$4" <"$5" | wc -c >"$6"' \
    _ "$MY_HOST" "$MY_PORT" "$MY_USER" "$SRC_DB" "$SELECT_SQL" "$WORK/select.bytes"

recreate_db "$DECOY_DB"
measure "decoy dump restore" "$DECOY" dump restore latest -c "$CONFIG" --to "$MY_URL/$DECOY_DB"
recreate_db "$DUMP_DB"
# shellcheck disable=SC2016  # $1..$5 expand in the inner bash
measure "$REPLAY_STEP" bash -c \
    'set -o pipefail; zstd -dc "$5" | mariadb -h "$1" -P "$2" -u "$3" "$4"' \
    _ "$MY_HOST" "$MY_PORT" "$MY_USER" "$DUMP_DB" "$WORK/dump.sql.zst"

# ---------------------------------------------------------------- report

SELECT_BYTES="$(cat "$WORK/select.bytes" 2>/dev/null || echo 0)"
[ "$SELECT_BYTES" -gt 0 ] || SELECT_BYTES="$DB_BYTES"   # fallback if the SELECT step failed
STORE_BYTES="$(du -sb "$WORK/store" 2>/dev/null | cut -f1 || true)"
MYSQLDUMP_BYTES="$(stat -c %s "$WORK/dump.sql.zst" 2>/dev/null || echo 0)"
DECOY_ROWS="$(count_rows "$DECOY_DB")"
DUMP_ROWS="$(count_rows "$DUMP_DB")"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

baseline_for() {
    case "$1" in
        "decoy dump create" | "SELECT * (mariadb -B)") echo "$DUMP_STEP" ;;
        "decoy dump restore") echo "$REPLAY_STEP" ;;
        *) echo "" ;;
    esac
}

echo
echo "decoy e2e MySQL benchmark  (scale $SCALE, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, MariaDB $(my_val -e 'SELECT version()'))"
echo "source: $ROWS rows in ${#TABLES[@]} tables; data + index length $(mb "$DB_BYTES") MB"
echo "MB/s basis: $(mb "$SELECT_BYTES") MB = total tab-separated SELECT output of all tables (MB = 10^6 bytes)"
echo "rows/s basis: all $ROWS source rows for every step (decoy skips audit_log, $AUDIT_ROWS rows, per config)"
echo
printf '%-24s %8s %8s %12s %9s %9s %12s  %s\n' step status seconds rows/s MB/s "RSS MB" "vs baseline" baseline
printf '%-24s %8s %8s %12s %9s %9s %12s  %s\n' ------------------------ ------ ------- ----------- -------- -------- ----------- --------
for s in "${STEPS[@]}"; do
    base="$(baseline_for "$s")"
    bsecs=0
    [ -n "$base" ] && bsecs="${SECS[$base]:-0}"
    awk -v step="$s" -v st="${STATUS[$s]}" -v secs="${SECS[$s]:-0}" -v kb="${RSS[$s]:-0}" \
        -v rows="$ROWS" -v bytes="$SELECT_BYTES" -v bsecs="$bsecs" -v base="$base" 'BEGIN {
        if (st != "ok") secs = 0   # no rates for a failed step
        rps = secs > 0 ? sprintf("%.0f", rows / secs) : "-"
        mbs = secs > 0 ? sprintf("%.1f", bytes / 1e6 / secs) : "-"
        ratio = (base != "" && bsecs > 0) ? sprintf("%.2fx", secs / bsecs) : "-"
        printf "%-24s %8s %8.2f %12s %9s %9.1f %12s  %s\n", step, st, secs, rps, mbs, kb / 1024, ratio, base
    }'
done
echo
echo "vs baseline = seconds / baseline seconds (below 1.00x is faster than the baseline)."
echo "RSS = peak resident memory of the client process tree (/usr/bin/time %M), not the server."
echo "output size: decoy dump $(mb "${STORE_BYTES:-0}") MB, $MYSQLDUMP | zstd -3 file $(mb "$MYSQLDUMP_BYTES") MB"
echo "restored rows: decoy $DECOY_ROWS, replay $DUMP_ROWS (source $ROWS, of which $AUDIT_ROWS skipped by decoy)"
if [ "$DECOY_ROWS" -ne $((ROWS - AUDIT_ROWS)) ] && [ "${STATUS["decoy dump restore"]}" = ok ]; then
    echo "WARNING: decoy restore row count differs from source minus skipped tables"
fi
if [ "$DUMP_ROWS" -ne "$ROWS" ] && [ "${STATUS[$REPLAY_STEP]}" = ok ]; then
    echo "WARNING: replayed row count differs from source"
fi

# target LABEL STEP BASELINE MAX_RATIO: met when STEP took at most MAX_RATIO x BASELINE's seconds.
target() {
    local label="$1" step="$2" base="$3" max="$4"
    awk -v label="$label" -v st="${STATUS[$step]}/${STATUS[$base]}" -v secs="${SECS[$step]:-0}" \
        -v bsecs="${SECS[$base]:-0}" -v max="$max" 'BEGIN {
        if (st != "ok/ok" || secs <= 0 || bsecs <= 0) { printf "  %-58s n/a (a step failed)\n", label; exit }
        printf "  %-58s %-6s (%.2fx the baseline time, target <= %.2fx)\n", label,
               secs <= bsecs * max ? "met" : "MISSED", secs / bsecs, max
    }'
}
echo "targets:"
target "decoy dump at least as fast as mysqldump | zstd" "decoy dump create" "$DUMP_STEP" 1
target "decoy restore at least 3x faster than replaying the dump" "decoy dump restore" "$REPLAY_STEP" 0.3333333

exit "$FAILED"
