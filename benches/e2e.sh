#!/usr/bin/env bash
# End-to-end benchmark: decoy dump/restore next to pg_dump/pg_restore and a raw
# COPY of every table (the streaming limit), on the same generated database.
#
#   benches/e2e.sh [SCALE]          # or SCALE=N benches/e2e.sh
#
#   SCALE       sample-data scale; default 94, about 2.0 million rows
#               (fixtures/sample/data.sql makes ~21,300 rows per unit of scale)
#   DECOY_BIN   use this decoy binary instead of `cargo build --release`
#   KEEP=1      keep the databases and the work directory for inspection
#   CARGO_TARGET_DIR  default /var/tmp/decoy-target (shared with scripts/test.sh)
#
# Reports wall seconds and peak RSS of the client process (/usr/bin/time): work
# done inside the PostgreSQL server is in the wall time but not in the RSS.
# Exits non-zero if any step failed (the other steps still run and print).
set -euo pipefail

cd "$(dirname "$0")/.."

SCALE="${1:-${SCALE:-94}}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/decoy-target}"
export DECOY_SALT="${DECOY_SALT:-decoy-bench-salt}"
# libpq defaults for psql, pg_dump and pg_restore below.
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
PG_URL="postgres://postgres@127.0.0.1:5432"
PG_RESTORE_JOBS=2

SRC_DB=decoy_bench
DECOY_DB=decoy_bench_restored_decoy
PGR_DB=decoy_bench_restored_pg_restore

log() { printf '==> %s\n' "$*" >&2; }
psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -w -v ON_ERROR_STOP=1 "$@"; }
psql_val() { psql -X -w -At -v ON_ERROR_STOP=1 "$@"; }
drop_db() { psql_q -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"; }
recreate_db() { drop_db "$1" && psql_q -d postgres -c "CREATE DATABASE \"$1\""; }

WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/decoy-bench.XXXXXX")"
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [ "${KEEP:-0}" = "1" ]; then
        log "KEEP=1: kept databases $SRC_DB $DECOY_DB $PGR_DB and $WORK"
    else
        for db in "$SRC_DB" "$DECOY_DB" "$PGR_DB"; do
            drop_db "$db" >/dev/null 2>&1 || true
        done
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- prerequisites

bash scripts/services.sh
if [ ! -x /usr/bin/time ]; then
    # GNU time gives peak RSS; the shell keyword does not.
    log "installing GNU time"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
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
psql_q -d "$SRC_DB" -f fixtures/sample/schema.sql
psql_q -d "$SRC_DB" -v scale="$SCALE" -f fixtures/sample/data.sql
# Set hint bits and warm the cache now, so the first timed step is not penalised.
psql_q -d "$SRC_DB" -c 'VACUUM (FREEZE, ANALYZE)' -c 'CHECKPOINT'

# Ordinary tables with rows (partitioned parents would be counted twice).
TABLES_SQL="SELECT format('%I.%I', n.nspname, c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1"
mapfile -t TABLES < <(psql_val -d "$SRC_DB" -c "$TABLES_SQL")

count_rows() {
    local db="$1" t total=0 n
    for t in "${TABLES[@]}"; do
        n="$(psql_val -d "$db" -c "SELECT count(*) FROM $t" 2>/dev/null || echo 0)"
        total=$((total + n))
    done
    echo "$total"
}
ROWS="$(count_rows "$SRC_DB")"
AUDIT_ROWS="$(psql_val -d "$SRC_DB" -c 'SELECT count(*) FROM public.audit_log')"
DB_BYTES="$(psql_val -d "$SRC_DB" -c "SELECT pg_database_size('$SRC_DB')")"
log "$SRC_DB: ${#TABLES[@]} tables, $ROWS rows, $((DB_BYTES / 1000000)) MB on disk"

# The sample config, pointed at the bench database and a throwaway datastore.
CONFIG="$WORK/decoy.yaml"
sed -e "s#^\(  url: .*/\)decoy_sample\$#\1$SRC_DB#" \
    -e "s#^\(    path: \).*\$#\1$WORK/store#" \
    fixtures/sample/decoy.yaml >"$CONFIG"
if ! grep -q "/$SRC_DB\$" "$CONFIG" || ! grep -q "path: $WORK/store\$" "$CONFIG"; then
    log "could not rewrite fixtures/sample/decoy.yaml for the bench"
    exit 1
fi

# The same config with a 10% subset: users at the root, their orders and addresses, the orders'
# items and invoices (two levels of children), and every parent those need.
SUBSET_CONFIG="$WORK/decoy-subset.yaml"
cat "$CONFIG" - >"$SUBSET_CONFIG" <<'YAML'
subset:
  roots:
    - { table: public.users, percent: 10 }
  depth: 2
YAML

# The same source and datastore without any rule: what decoy costs over the streaming limit.
NORULES_CONFIG="$WORK/decoy-norules.yaml"
awk '/^tables:/ { exit } { print }' "$CONFIG" >"$NORULES_CONFIG"

# One COPY per table in a single psql session: the rate at which rows can leave the server.
COPY_SQL="$WORK/copy_all.sql"
for t in "${TABLES[@]}"; do
    printf 'COPY %s TO STDOUT;\n' "$t"
done >"$COPY_SQL"

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

measure "decoy dump create" "$DECOY" dump create -c "$CONFIG" --name full
measure "decoy dump, no rules" "$DECOY" dump create -c "$NORULES_CONFIG" --name norules
measure "pg_dump -Fc" pg_dump -Fc -d "$SRC_DB" -f "$WORK/pg_dump.custom"
measure "pg_dump -Fd -j $PG_RESTORE_JOBS" pg_dump -Fd -j "$PG_RESTORE_JOBS" -d "$SRC_DB" -f "$WORK/pg_dump.dir"
# wc -c discards the stream like /dev/null and gives the MB/s basis.
# shellcheck disable=SC2016  # $1..$3 expand in the inner bash
measure "COPY TO STDOUT (psql)" bash -c \
    'psql -X -w -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" | wc -c >"$3"' \
    _ "$SRC_DB" "$COPY_SQL" "$WORK/copy.bytes"

recreate_db "$DECOY_DB"
measure "decoy dump restore" "$DECOY" dump restore full -c "$CONFIG" --to "$PG_URL/$DECOY_DB"
recreate_db "$PGR_DB"
measure "pg_restore -j $PG_RESTORE_JOBS" pg_restore -j "$PG_RESTORE_JOBS" --exit-on-error -d "$PGR_DB" "$WORK/pg_dump.custom"
# The full dump's size, before the subset dump joins it in the store.
STORE_BYTES="$(du -sb "$WORK/store/full" 2>/dev/null | cut -f1 || true)"
measure "decoy 10% subset" "$DECOY" dump create -c "$SUBSET_CONFIG" --name subset-10

# ---------------------------------------------------------------- report

COPY_BYTES="$(cat "$WORK/copy.bytes" 2>/dev/null || echo 0)"
[ "$COPY_BYTES" -gt 0 ] || COPY_BYTES="$DB_BYTES"   # fallback if the COPY step failed
SUBSET_BYTES="$(du -sb "$WORK/store/subset-10" 2>/dev/null | cut -f1 || true)"
PGDUMP_BYTES="$(stat -c %s "$WORK/pg_dump.custom" 2>/dev/null || echo 0)"
DECOY_ROWS="$(count_rows "$DECOY_DB")"
PGR_ROWS="$(count_rows "$PGR_DB")"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

baseline_for() {
    case "$1" in
        "decoy dump create" | "COPY TO STDOUT (psql)" | "pg_dump -Fd -j $PG_RESTORE_JOBS") echo "pg_dump -Fc" ;;
        "decoy dump, no rules") echo "COPY TO STDOUT (psql)" ;;
        "decoy dump restore") echo "pg_restore -j $PG_RESTORE_JOBS" ;;
        "decoy 10% subset") echo "decoy dump create" ;;
        *) echo "" ;;
    esac
}

echo
echo "decoy e2e benchmark  (scale $SCALE, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(psql_val -d postgres -c 'SHOW server_version'))"
echo "source: $ROWS rows in ${#TABLES[@]} tables; pg_database_size $(mb "$DB_BYTES") MB"
echo "MB/s basis: $(mb "$COPY_BYTES") MB = total COPY text output of all tables (MB = 10^6 bytes)"
echo "rows/s basis: all $ROWS source rows for every step (decoy skips public.audit_log, $AUDIT_ROWS rows, per config)"
echo
printf '%-24s %8s %8s %12s %9s %9s %12s  %s\n' step status seconds rows/s MB/s "RSS MB" "vs baseline" baseline
printf '%-24s %8s %8s %12s %9s %9s %12s  %s\n' ------------------------ ------ ------- ----------- -------- -------- ----------- --------
for s in "${STEPS[@]}"; do
    base="$(baseline_for "$s")"
    bsecs=0
    [ -n "$base" ] && bsecs="${SECS[$base]:-0}"
    awk -v step="$s" -v st="${STATUS[$s]}" -v secs="${SECS[$s]:-0}" -v kb="${RSS[$s]:-0}" \
        -v rows="$ROWS" -v bytes="$COPY_BYTES" -v bsecs="$bsecs" -v base="$base" 'BEGIN {
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
echo "output size: decoy dump $(mb "${STORE_BYTES:-0}") MB, pg_dump -Fc file $(mb "$PGDUMP_BYTES") MB, decoy 10% subset $(mb "${SUBSET_BYTES:-0}") MB"
SUBSET_ROWS="$(grep -o '[0-9]* rows,' "$WORK/decoy 10% subset.log" | head -n 1 | cut -d' ' -f1 || true)"
echo "10% subset: ${SUBSET_ROWS:-?} rows dumped (rows/s and MB/s above divide the whole source, like every other step)"
echo "restored rows: decoy $DECOY_ROWS, pg_restore $PGR_ROWS (source $ROWS, of which $AUDIT_ROWS skipped by decoy)"
if [ "$DECOY_ROWS" -ne $((ROWS - AUDIT_ROWS)) ] && [ "${STATUS["decoy dump restore"]}" = ok ]; then
    echo "WARNING: decoy restore row count differs from source minus skipped tables"
fi

exit "$FAILED"
