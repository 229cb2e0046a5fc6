#!/usr/bin/env bash
# End-to-end benchmark: decoy dump/restore next to pg_dump/pg_restore and a raw COPY of every
# table (the streaming limit), on the same generated database, at several scales in one run,
# then a summary across scales and a sweep of decoy's workers at one scale.
#
#   benches/e2e.sh [SCALE...]       # or SCALES="24 94 376" / SCALE=N benches/e2e.sh
#
#   SCALES      sample-data scales, run in order; default "24 94 376" (about 0.5, 2.0 and 8.0
#               million rows: fixtures/sample/data.sql makes ~21,300 rows per unit of scale)
#   JOBS        decoy dump.workers, pg_dump -Fd -j and pg_restore -j; default 2
#   SWEEP=0     skip the workers sweep
#   SWEEP_SCALE scale of the sweep; default the largest of SCALES
#   SWEEP_WORKERS  decoy dump.workers values of the sweep; default "1 2 4 8"
#   DECOY_DUMP_EXTRA  YAML lines added under `dump:` in every decoy config, e.g.
#               $'split_table_bytes: 64MiB\nmemory_limit: 256MiB'
#   RSS_BUDGET_MIB  peak RSS decoy must stay within; default the memory_limit line of
#               DECOY_DUMP_EXTRA, else 512 (decoy's default dump.memory_limit)
#   REPORT      the Markdown report; default $WORK/report.md (kept when the rest is removed)
#   DECOY_BIN   use this decoy binary instead of `cargo build --release`
#   KEEP=1      keep the databases (of the last scale) and every scale's work directory
#   CARGO_TARGET_DIR  default /var/tmp/decoy-target (shared with scripts/test.sh)
#
# Targets (from the speed-at-scale issue), checked at every scale: the anonymized dump within
# 1.2x the raw COPY of the same tables, at least 2x faster than pg_dump -Fc, restore no slower
# than pg_restore -j JOBS, and peak RSS within the budget whatever the size.
#
# Reports wall seconds and peak RSS of the client process (/usr/bin/time): work done inside the
# PostgreSQL server is in the wall time but not in the RSS. A failed step is reported and the
# others still run; the script exits non-zero at the end if any step failed.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

bench_scales "24 94 376" "$@"

# libpq defaults for psql, pg_dump and pg_restore below.
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
PG_URL="postgres://postgres@127.0.0.1:5432"

SRC_DB=decoy_bench
DECOY_DB=decoy_bench_restored_decoy
PGR_DB=decoy_bench_restored_pg_restore
DECOY_URL="$PG_URL/$DECOY_DB"
BENCH_DBS=("$SRC_DB" "$DECOY_DB" "$PGR_DB")

psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -w -v ON_ERROR_STOP=1 "$@"; }
psql_val() { psql -X -w -At -v ON_ERROR_STOP=1 "$@"; }
drop_db() { psql_q -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"; }
recreate_db() { drop_db "$1" && psql_q -d postgres -c "CREATE DATABASE \"$1\""; }

bench_init decoy-bench
bash scripts/services.sh
bench_prerequisites

# ---------------------------------------------------------------- decoy configs

# The sample config pointed at the bench database; the datastore path is set per run.
RULES_BASE="$WORK/base-rules.yaml"
sed -e "s#^\(  url: .*/\)decoy_sample\$#\1$SRC_DB#" fixtures/sample/decoy.yaml >"$RULES_BASE"
grep -q "/$SRC_DB\$" "$RULES_BASE" || { log "could not point fixtures/sample/decoy.yaml at $SRC_DB"; exit 1; }
derive_configs "$RULES_BASE" public.users

bench_header "decoy end-to-end benchmark: PostgreSQL" \
    "PostgreSQL $(psql_val -d postgres -c 'SHOW server_version'), $(pg_dump --version)"
out "- decoy restores its rule-less dump (the same tables and rows as pg_restore's); the rules skip ${SKIPPED[*]:-nothing}, so the anonymized dump is held to a COPY of the other tables"

# ---------------------------------------------------------------- source database

# prepare_source SCALE: the source database at SCALE, TABLES and its sizes. Fails (non-zero)
# instead of exiting, so the next scale still runs.
prepare_source() {
    log "creating $SRC_DB at scale $1"
    recreate_db "$SRC_DB" || return 1
    psql_q -d "$SRC_DB" -f fixtures/sample/schema.sql || return 1
    psql_q -d "$SRC_DB" -v scale="$1" -f fixtures/sample/data.sql || return 1
    # Set hint bits and warm the cache now, so the first timed step is not penalised.
    psql_q -d "$SRC_DB" -c 'VACUUM (FREEZE, ANALYZE)' -c 'CHECKPOINT' || return 1
    # Ordinary tables with rows (partitioned parents would be counted twice).
    mapfile -t TABLES < <(psql_val -d "$SRC_DB" -c "
        SELECT format('%I.%I', n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1")
    [ "${#TABLES[@]}" -gt 0 ] || return 1
    ROWS="$(count_rows "$SRC_DB")"
    DB_BYTES="$(psql_val -d "$SRC_DB" -c "SELECT pg_database_size('$SRC_DB')")" || return 1
    log "$SRC_DB: ${#TABLES[@]} tables, $ROWS rows, $((DB_BYTES / 1000000)) MB on disk"
}

# count_table DB TABLE: the table's rows (for count_rows).
count_table() { psql_val -d "$1" -c "SELECT count(*) FROM $2"; }

# ---------------------------------------------------------------- one scale

COPY_ALL="COPY TO STDOUT, all tables"
COPY_DUMPED="COPY TO STDOUT, tables decoy dumps"
PGDUMP="pg_dump -Fc"
PGDUMP_DIR="pg_dump -Fd -j $JOBS"
PGRESTORE="pg_restore -j $JOBS"
SHORT=([$COPY_ALL]="COPY all" [$COPY_DUMPED]="COPY" [$PGDUMP]="$PGDUMP" [$PGRESTORE]="$PGRESTORE"
    [$DUMP]="full dump")
decoy_baselines "$COPY_ALL" "$COPY_DUMPED" "$PGDUMP" "$PGRESTORE"
baseline "$PGDUMP_DIR" "$PGDUMP"

# copy_step NAME TABLE...: one COPY per table in a single psql session, output counted by wc -c
# (which discards it like /dev/null and gives the MB/s basis) into $(step_file NAME).bytes.
copy_step() {
    local name="$1" sql
    shift
    sql="$(step_file "$name").sql"
    printf 'COPY %s TO STDOUT;\n' "$@" >"$sql"
    # shellcheck disable=SC2016  # $1..$3 expand in the inner bash
    measure "$name" bash -c 'set -o pipefail; psql -X -w -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" | wc -c >"$3"' \
        _ "$SRC_DB" "$sql" "$(step_file "$name").bytes"
}

# run_scale SCALE: the timed steps at SCALE (after scale_begin) and the scale's report.
run_scale() {
    local copy_bytes store_bytes subset_bytes pgdump_bytes decoy_rows pgr_rows skipped_rows
    skipped_rows=$((ROWS - $(count_rows "$SRC_DB" "${DUMPED[@]}")))

    measure "$DUMP" "$DECOY" dump create -c "$CONFIG" --name full
    measure "$NORULES" "$DECOY" dump create -c "$NORULES_CONFIG" --name norules
    measure "$PGDUMP" pg_dump -Fc -d "$SRC_DB" -f "$SCALE_WORK/pg_dump.custom"
    measure "$PGDUMP_DIR" pg_dump -Fd -j "$JOBS" -d "$SRC_DB" -f "$SCALE_WORK/pg_dump.dir"
    rm -rf "$SCALE_WORK/pg_dump.dir"
    copy_step "$COPY_ALL" "${TABLES[@]}"
    copy_step "$COPY_DUMPED" "${DUMPED[@]}"
    recreate_db "$DECOY_DB" || log "could not recreate $DECOY_DB"
    measure "$RESTORE" "$DECOY" dump restore norules -c "$NORULES_CONFIG" --to "$DECOY_URL"
    recreate_db "$PGR_DB" || log "could not recreate $PGR_DB"
    measure "$PGRESTORE" pg_restore -j "$JOBS" --exit-on-error -d "$PGR_DB" "$SCALE_WORK/pg_dump.custom"
    measure "$SUBSET" "$DECOY" dump create -c "$SUBSET_CONFIG" --name subset-10

    copy_bytes="$(cat "$(step_file "$COPY_ALL").bytes" 2>/dev/null || echo 0)"
    [ "${copy_bytes:-0}" -gt 0 ] || copy_bytes="$DB_BYTES" # fallback if the COPY step failed
    store_bytes="$(du -sb "$SCALE_WORK/store/full" 2>/dev/null | cut -f1 || true)"
    subset_bytes="$(du -sb "$SCALE_WORK/store/subset-10" 2>/dev/null | cut -f1 || true)"
    pgdump_bytes="$(stat -c %s "$SCALE_WORK/pg_dump.custom" 2>/dev/null || echo 0)"
    decoy_rows="$(count_rows "$DECOY_DB")"
    pgr_rows="$(count_rows "$PGR_DB")"

    out "source: $ROWS rows in ${#TABLES[@]} tables, pg_database_size $(mb "$DB_BYTES") MB, COPY output $(mb "$copy_bytes") MB" ""
    step_table "$ROWS" "$copy_bytes"
    out "" "- output size: decoy dump $(mb "${store_bytes:-0}") MB, pg_dump -Fc $(mb "$pgdump_bytes") MB, decoy 10% subset $(mb "${subset_bytes:-0}") MB" \
        "- rows: decoy dump $(dumped_rows "$DUMP") (the rules skip $skipped_rows), no rules $(dumped_rows "$NORULES"), 10% subset $(dumped_rows "$SUBSET"); restored: decoy $decoy_rows, pg_restore $pgr_rows (source $ROWS)"
    check_restored "$RESTORE" "$decoy_rows" decoy
    check_restored "$PGRESTORE" "$pgr_rows" pg_restore
    out "" "Targets:" ""
    target "anonymized dump within 1.2x the raw COPY of the same tables" "$DUMP" "$COPY_DUMPED" 1.2
    target "anonymized dump at least 2x faster than pg_dump -Fc" "$DUMP" "$PGDUMP" 0.5
    target "restore no slower than $PGRESTORE" "$RESTORE" "$PGRESTORE" 1
    rss_target "$DUMP" "$RESTORE" "$SUBSET"

    summary_row "$1" "$copy_bytes" "$COPY_ALL" "$COPY_DUMPED" "$PGDUMP" "$PGRESTORE"

    # The restored copies are not needed any more (the sweep restores into a fresh one).
    if [ "${KEEP:-0}" != 1 ]; then
        drop_db "$DECOY_DB" || true
        drop_db "$PGR_DB" || true
        rm -rf "$SCALE_WORK/store" "$SCALE_WORK/pg_dump.custom"
    fi
}

# ---------------------------------------------------------------- the run

bench_run
summary_report "dump = decoy dump create with the sample rules; COPY = raw COPY of the same tables; restore = decoy restore of the rule-less dump; peak RSS in MiB." \
    scale rows "COPY MB" "dump s" "dump / COPY" "no rules / COPY all" "$PGDUMP / dump" \
    "restore / $PGRESTORE" "dump RSS" "restore RSS" "subset RSS"
sweep_report
bench_finish
