#!/usr/bin/env bash
# End-to-end benchmark on MariaDB: decoy dump/restore next to mysqldump --single-transaction | zstd
# and the replay of that dump through the mariadb client, plus a plain SELECT of every table (the
# streaming limit), on the same generated database (fixtures/sample/mysql.sql), at several scales
# in one run, then a summary across scales and a sweep of decoy's workers at one scale.
#
#   benches/e2e_mysql.sh [SCALE...] # or SCALES="24 94" / SCALE=N benches/e2e_mysql.sh
#
#   SCALES      sample-data scales, run in order; default "24 94" (about 0.5 and 2.0 million rows:
#               fixtures/sample/mysql.sql makes ~21,300 rows per unit of scale)
#   JOBS        decoy dump.workers; default 2
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
# Targets (from the MySQL support issue), checked at every scale: decoy dump at least as fast as
# `mysqldump --single-transaction | zstd`, decoy restore at least 3x faster than replaying that
# mysqldump output, and peak RSS within the budget whatever the size.
#
# Reports wall seconds and peak RSS of the client process (/usr/bin/time): work done inside the
# MariaDB server is in the wall time but not in the RSS. A failed step is reported and the others
# still run; the script exits non-zero at the end if any step failed.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

bench_scales "24 94" "$@"

MY_HOST=127.0.0.1
MY_PORT=3306
MY_USER=root
MY_URL="mysql://$MY_USER@$MY_HOST:$MY_PORT"

SRC_DB=decoy_bench_my
DECOY_DB=decoy_bench_my_restored_decoy
DUMP_DB=decoy_bench_my_restored_dump
DECOY_URL="$MY_URL/$DECOY_DB"
BENCH_DBS=("$SRC_DB" "$DECOY_DB" "$DUMP_DB")

my() { mariadb -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" "$@"; }
my_val() { my -N -B "$@"; }
drop_db() { my -e "DROP DATABASE IF EXISTS \`$1\`"; }
recreate_db() { drop_db "$1" && my -e "CREATE DATABASE \`$1\` CHARACTER SET utf8mb4"; }

bench_init decoy-bench-my
DECOY_SERVICES=mysql bash scripts/services.sh
command -v zstd >/dev/null 2>&1 || apt_install zstd
if command -v mysqldump >/dev/null 2>&1; then
    MYSQLDUMP=mysqldump
elif command -v mariadb-dump >/dev/null 2>&1; then
    MYSQLDUMP=mariadb-dump
else
    log "neither mysqldump nor mariadb-dump is installed"
    exit 1
fi
bench_prerequisites

# ---------------------------------------------------------------- decoy configs

# The sample config (fixtures/sample/decoy.yaml) for MySQL: keys name tables of the URL's database.
# The datastore path is set per run.
RULES_BASE="$WORK/base-rules.yaml"
cat >"$RULES_BASE" <<YAML
source:
  url: $MY_URL/$SRC_DB

datastore:
  local:
    path: ./dumps

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
derive_configs "$RULES_BASE" users

bench_header "decoy end-to-end benchmark: MySQL (MariaDB)" \
    "MariaDB $(my_val -e 'SELECT version()'), $($MYSQLDUMP --version | head -n 1)"
out "- decoy restores its rule-less dump (the same tables and rows as the mysqldump replay); the rules skip ${SKIPPED[*]:-nothing}, so the anonymized dump is also held to a SELECT of the other tables"

# ---------------------------------------------------------------- source database

# prepare_source SCALE: the source database at SCALE, TABLES and its sizes. Fails (non-zero)
# instead of exiting, so the next scale still runs.
prepare_source() {
    log "creating $SRC_DB at scale $1"
    recreate_db "$SRC_DB" || return 1
    my -e "SET @scale = $1; \\. fixtures/sample/mysql.sql" "$SRC_DB" || return 1
    # Base tables with rows (views would be counted twice).
    mapfile -t TABLES < <(my_val -e "SELECT table_name FROM information_schema.tables
        WHERE table_schema = '$SRC_DB' AND table_type = 'BASE TABLE' ORDER BY 1")
    [ "${#TABLES[@]}" -gt 0 ] || return 1
    # Write the loaded pages to disk now (as CHECKPOINT does for PostgreSQL), so the first timed
    # step does not compete with the page cleaner, and warm the buffer pool.
    local table_list
    # shellcheck disable=SC2016  # backticks quote MySQL identifiers
    table_list="$(printf '`%s`,' "${TABLES[@]}")"
    my -e "FLUSH TABLES ${table_list%,} FOR EXPORT; UNLOCK TABLES; ANALYZE TABLE ${table_list%,}" \
        "$SRC_DB" >/dev/null || return 1
    ROWS="$(count_rows "$SRC_DB")"
    DB_BYTES="$(my_val -e "SELECT sum(data_length + index_length) FROM information_schema.tables
                           WHERE table_schema = '$SRC_DB'")" || return 1
    log "$SRC_DB: ${#TABLES[@]} tables, $ROWS rows, $((DB_BYTES / 1000000)) MB on disk"
}

# count_table DB TABLE: the table's rows (for count_rows).
count_table() { my_val -e "SELECT count(*) FROM \`$1\`.\`$2\`"; }

# ---------------------------------------------------------------- one scale

SELECT_ALL="SELECT *, all tables"
SELECT_DUMPED="SELECT *, tables decoy dumps"
MYDUMP="mysqldump | zstd -3"
REPLAY="replay (mariadb)"
SHORT=([$SELECT_ALL]="SELECT all" [$SELECT_DUMPED]="SELECT" [$MYDUMP]="mysqldump" [$REPLAY]="replay"
    [$DUMP]="full dump")
decoy_baselines "$SELECT_ALL" "$SELECT_DUMPED" "$MYDUMP" "$REPLAY"

# select_step NAME TABLE...: one SELECT per table in a single client session, tab-separated and
# unbuffered (--quick), output counted by wc -c (which discards it like /dev/null and gives the
# MB/s basis) into $(step_file NAME).bytes.
select_step() {
    local name="$1" sql
    shift
    sql="$(step_file "$name").sql"
    # shellcheck disable=SC2016  # backticks quote MySQL identifiers
    printf 'SELECT * FROM `%s`;\n' "$@" >"$sql"
    # shellcheck disable=SC2016  # $1..$6 expand in the inner bash
    measure "$name" bash -c \
        'set -o pipefail; mariadb -h "$1" -P "$2" -u "$3" --quick -N -B "$4" <"$5" | wc -c >"$6"' \
        _ "$MY_HOST" "$MY_PORT" "$MY_USER" "$SRC_DB" "$sql" "$(step_file "$name").bytes"
}

# run_scale SCALE: the timed steps at SCALE (after scale_begin) and the scale's report.
run_scale() {
    local select_bytes store_bytes subset_bytes mydump_bytes decoy_rows dump_rows skipped_rows
    skipped_rows=$((ROWS - $(count_rows "$SRC_DB" "${DUMPED[@]}")))

    measure "$DUMP" "$DECOY" dump create -c "$CONFIG" --name full
    measure "$NORULES" "$DECOY" dump create -c "$NORULES_CONFIG" --name norules
    # shellcheck disable=SC2016  # $1..$6 expand in the inner bash
    measure "$MYDUMP" bash -c \
        'set -o pipefail; "$1" -h "$2" -P "$3" -u "$4" --single-transaction "$5" | zstd -q -3 >"$6"' \
        _ "$MYSQLDUMP" "$MY_HOST" "$MY_PORT" "$MY_USER" "$SRC_DB" "$SCALE_WORK/dump.sql.zst"
    select_step "$SELECT_ALL" "${TABLES[@]}"
    select_step "$SELECT_DUMPED" "${DUMPED[@]}"
    recreate_db "$DECOY_DB" || log "could not recreate $DECOY_DB"
    measure "$RESTORE" "$DECOY" dump restore norules -c "$NORULES_CONFIG" --to "$DECOY_URL"
    recreate_db "$DUMP_DB" || log "could not recreate $DUMP_DB"
    # shellcheck disable=SC2016  # $1..$5 expand in the inner bash
    measure "$REPLAY" bash -c \
        'set -o pipefail; zstd -dc "$5" | mariadb -h "$1" -P "$2" -u "$3" "$4"' \
        _ "$MY_HOST" "$MY_PORT" "$MY_USER" "$DUMP_DB" "$SCALE_WORK/dump.sql.zst"
    measure "$SUBSET" "$DECOY" dump create -c "$SUBSET_CONFIG" --name subset-10

    select_bytes="$(cat "$(step_file "$SELECT_ALL").bytes" 2>/dev/null || echo 0)"
    [ "${select_bytes:-0}" -gt 0 ] || select_bytes="$DB_BYTES" # fallback if the SELECT step failed
    store_bytes="$(du -sb "$SCALE_WORK/store/full" 2>/dev/null | cut -f1 || true)"
    subset_bytes="$(du -sb "$SCALE_WORK/store/subset-10" 2>/dev/null | cut -f1 || true)"
    mydump_bytes="$(stat -c %s "$SCALE_WORK/dump.sql.zst" 2>/dev/null || echo 0)"
    decoy_rows="$(count_rows "$DECOY_DB")"
    dump_rows="$(count_rows "$DUMP_DB")"

    out "source: $ROWS rows in ${#TABLES[@]} tables, data + index length $(mb "$DB_BYTES") MB, SELECT output $(mb "$select_bytes") MB" ""
    step_table "$ROWS" "$select_bytes"
    out "" "- output size: decoy dump $(mb "${store_bytes:-0}") MB, $MYSQLDUMP | zstd -3 $(mb "$mydump_bytes") MB, decoy 10% subset $(mb "${subset_bytes:-0}") MB" \
        "- rows: decoy dump $(dumped_rows "$DUMP") (the rules skip $skipped_rows), no rules $(dumped_rows "$NORULES"), 10% subset $(dumped_rows "$SUBSET"); restored: decoy $decoy_rows, replay $dump_rows (source $ROWS)"
    check_restored "$RESTORE" "$decoy_rows" decoy
    check_restored "$REPLAY" "$dump_rows" "the replay"
    out "" "Targets:" ""
    target "anonymized dump at least as fast as mysqldump | zstd" "$DUMP" "$MYDUMP" 1
    target "restore at least 3x faster than replaying the dump" "$RESTORE" "$REPLAY" 0.3333333
    rss_target "$DUMP" "$RESTORE" "$SUBSET"

    summary_row "$1" "$select_bytes" "$SELECT_ALL" "$SELECT_DUMPED" "$MYDUMP" "$REPLAY"

    # The restored copies are not needed any more (the sweep restores into a fresh one).
    if [ "${KEEP:-0}" != 1 ]; then
        drop_db "$DECOY_DB" || true
        drop_db "$DUMP_DB" || true
        rm -rf "$SCALE_WORK/store" "$SCALE_WORK/dump.sql.zst"
    fi
}

# ---------------------------------------------------------------- the run

bench_run
summary_report "dump = decoy dump create with the sample rules; SELECT = SELECT * of the same tables; restore = decoy restore of the rule-less dump, replay = mysqldump output through mariadb; peak RSS in MiB." \
    scale rows "SELECT MB" "dump s" "dump / SELECT" "no rules / SELECT all" "mysqldump / dump" \
    "restore / replay" "dump RSS" "restore RSS" "subset RSS"
sweep_report
bench_finish
