# shellcheck shell=bash
# Helpers shared by benches/e2e.sh (PostgreSQL) and benches/e2e_mysql.sh (MariaDB): scale list,
# decoy configs, timing, tables, the Markdown report, the workers sweep. Sourced, not run.
#
# A sourcing script defines, before calling the functions that need them:
#   drop_db NAME, recreate_db NAME      its server's database helpers
#   BENCH_DBS=(...)                     databases the bench creates (dropped on exit)
#   DECOY_DB, DECOY_URL                 the database decoy restores into, and its URL
#   RULES_BASE                          the sample config pointed at the source, without `dump:`;
#                                       derive_configs makes NORULES_BASE, SUBSET_BASE and SKIPPED
#   prepare_source SCALE                loads the source; sets TABLES, ROWS; non-zero on failure
#   count_table DB TABLE                prints the table's row count
#   run_scale SCALE                     the timed steps and the scale's report
# and calls, in order: bench_scales, bench_init, bench_prerequisites, bench_header, bench_run,
# summary_report, sweep_report, bench_finish.

# Decimal points, not commas, in EPOCHREALTIME and printf %f.
export LC_NUMERIC=C

log() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- settings

# bench_scales DEFAULT ARGS...: SCALE_LIST from the arguments, else $SCALES, else $SCALE, else
# DEFAULT. Every scale is a positive number (fractions work: the fixtures scale linearly).
bench_scales() {
    local default="$1" s
    shift
    if [ "$#" -gt 0 ]; then
        # shellcheck disable=SC2206  # split "24 94" given as one argument as well
        SCALE_LIST=($*)
    else
        # shellcheck disable=SC2206  # a space-separated list
        SCALE_LIST=(${SCALES:-${SCALE:-$default}})
    fi
    [ "${#SCALE_LIST[@]}" -gt 0 ] || { log "no scale given"; exit 2; }
    for s in "${SCALE_LIST[@]}"; do
        if ! [[ "$s" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v s="$s" 'BEGIN { exit !(s > 0) }'; then
            log "scale '$s' is not a positive number"
            exit 2
        fi
    done
    JOBS="${JOBS:-2}"
    [[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { log "JOBS='$JOBS' is not a positive integer"; exit 2; }
    RSS_BUDGET_MIB="${RSS_BUDGET_MIB:-$(memory_limit_mib)}"
    [[ "$RSS_BUDGET_MIB" =~ ^[1-9][0-9]*$ ]] || { log "RSS_BUDGET_MIB='$RSS_BUDGET_MIB' is not a number of MiB"; exit 2; }
    SWEEP="${SWEEP:-1}"
    SWEEP_SCALE="${SWEEP_SCALE:-$(printf '%s\n' "${SCALE_LIST[@]}" | sort -g | tail -n 1)}"
    # shellcheck disable=SC2206  # a space-separated list
    SWEEP_WORKER_LIST=(${SWEEP_WORKERS:-1 2 4 8})
    for s in "${SWEEP_WORKER_LIST[@]}"; do
        [[ "$s" =~ ^[1-9][0-9]*$ ]] || { log "SWEEP_WORKERS: '$s' is not a positive integer"; exit 2; }
    done
    # The workers of every decoy run come from JOBS or the sweep, not from the extra lines.
    if grep -Eq '^[[:space:]]*workers[[:space:]]*:' <<<"${DECOY_DUMP_EXTRA:-}"; then
        log "DECOY_DUMP_EXTRA must not set workers: use JOBS (and SWEEP_WORKERS for the sweep)"
        exit 2
    fi
}

# memory_limit_mib: the MiB of a `memory_limit:` line in DECOY_DUMP_EXTRA (sizes as decoy reads
# them: 256MiB, 300MB, 1GiB, a number of bytes), else decoy's default, 512.
memory_limit_mib() {
    sed -n 's/^[[:space:]]*memory_limit[[:space:]]*:[[:space:]]*["'"'"']\{0,1\}\([0-9][0-9.]*[[:space:]]*[A-Za-z]*\).*/\1/p' \
        <<<"${DECOY_DUMP_EXTRA:-}" | head -n 1 | awk '
        { if (!match($0, /^[0-9.]+/)) exit
          n = substr($0, 1, RLENGTH); u = tolower(substr($0, RLENGTH + 1)); gsub(/ /, "", u)
          m["" ] = 1; m["b"] = 1; m["k"] = 1e3; m["kb"] = 1e3; m["kib"] = 1024; m["m"] = 1e6; m["mb"] = 1e6
          m["mib"] = 1048576; m["g"] = 1e9; m["gb"] = 1e9; m["gib"] = 1073741824
          if (u in m) { printf "%d\n", n * m[u] / 1048576; found = 1 } }
        END { if (!found) print 512 }'
}

# ---------------------------------------------------------------- work directory and exit

# bench_init PREFIX: a fresh work directory, the report file, the EXIT trap.
bench_init() {
    WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/$1.XXXXXX")"
    REPORT="${REPORT:-$WORK/report.md}"
    mkdir -p "$(dirname "$REPORT")"
    : >"$REPORT"
    FAILED=0
    FAILURES=()
    # shellcheck disable=SC2034  # filled and read by the sourcing script
    SUMMARY_ROWS=()
    SWEEP_ROWS=()
    trap bench_cleanup EXIT
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
bench_cleanup() {
    local rc=$? db
    if [ "${KEEP:-0}" = "1" ]; then
        log "KEEP=1: kept databases ${BENCH_DBS[*]} (of the last scale run) and $WORK"
    else
        for db in "${BENCH_DBS[@]}"; do
            drop_db "$db" >/dev/null 2>&1 || true
        done
        # Everything but the report, which is the point of the run, and failed steps' logs.
        find "$WORK" -mindepth 1 -maxdepth 1 ! -path "$REPORT" ! -path "$WORK/failed" \
            -exec rm -rf {} + 2>/dev/null || true
        rmdir "$WORK" 2>/dev/null || true
    fi
    exit "$rc"
}

# bench_finish: list the failures, point at the report, exit non-zero if anything failed.
bench_finish() {
    local f
    if [ "${#FAILURES[@]}" -gt 0 ]; then
        out "" "## Failures" ""
        for f in "${FAILURES[@]}"; do
            out "- $f"
        done
    fi
    echo
    log "report: $REPORT"
    exit "$FAILED"
}

# fail WHAT: record a failure outside a timed step (e.g. a source database that did not load).
fail() {
    FAILED=1
    FAILURES+=("$*")
    log "FAILED: $*"
}

# ---------------------------------------------------------------- prerequisites

APT_UPDATED=0
apt_install() {
    log "installing $* (apt)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# bench_prerequisites: GNU time (peak RSS; the shell keyword has none) and the decoy binary.
bench_prerequisites() {
    [ -x /usr/bin/time ] || apt_install time
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/decoy-target}"
    export DECOY_SALT="${DECOY_SALT:-decoy-bench-salt}"
    if [ -n "${DECOY_BIN:-}" ]; then
        DECOY="$DECOY_BIN"
    else
        log "building decoy (release; CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        cargo build --release --bin decoy
        DECOY="$CARGO_TARGET_DIR/release/decoy"
    fi
    [ -x "$DECOY" ] || { log "no decoy binary at $DECOY"; exit 1; }
}

# ---------------------------------------------------------------- report output

# out LINE...: print each line and append it to the Markdown report.
out() { printf '%s\n' "$@" | tee -a "$REPORT"; }

# emit_table ALIGN: a Markdown table, padded so it also reads as text, from tab-separated lines
# on stdin (the first is the header). ALIGN has one letter per column, l or r.
emit_table() {
    awk -F'\t' -v align="$1" '
        { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
          if (NF > nf) nf = NF }
        END {
            for (i = 1; i <= nf; i++) if (w[i] < 3) w[i] = 3
            for (r = 1; r <= NR; r++) {
                line = "|"
                for (i = 1; i <= nf; i++) {
                    a = substr(align, i, 1)
                    line = line " " sprintf(a == "r" ? "%" w[i] "s" : "%-" w[i] "s", cell[r, i]) " |"
                }
                print line
                if (r == 1) {
                    line = "|"
                    for (i = 1; i <= nf; i++) {
                        dash = sprintf("%" (w[i] + 1) "s", ""); gsub(/ /, "-", dash)
                        line = line (substr(align, i, 1) == "r" ? dash ":" : ":" dash) "|"
                    }
                    print line
                }
            }
        }' | tee -a "$REPORT"
}

# tsv FIELD...: one tab-separated line, for emit_table.
tsv() {
    local IFS=$'\t'
    printf '%s\n' "$*"
}

mb() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# machine_line SERVER...: cores, CPU, memory, servers, decoy and the date, for the report.
machine_line() {
    local cores cpu ram commit
    cores="$(lscpu -p=Core,Socket 2>/dev/null | grep -v '^#' | sort -u | wc -l)"
    [ "${cores:-0}" -gt 0 ] || cores="$(nproc)"
    cpu="$(grep -m 1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
    ram="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    git diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
    if [ -n "${DECOY_BIN:-}" ]; then
        commit="binary $DECOY_BIN, benches from $commit"
    else
        commit="built from $commit"
    fi
    printf '%s physical cores, nproc %s, %s, %s RAM; %s; %s (%s); %s\n' \
        "$cores" "$(nproc)" "${cpu:-unknown CPU}" "${ram:-? GiB}" "$*" \
        "$("$DECOY" --version 2>/dev/null || echo decoy)" "$commit" "$(date -u '+%Y-%m-%d %H:%M UTC')"
}

# bench_header TITLE SERVERS: the report's title, machine line and settings.
bench_header() {
    local extra
    extra="$(printf '%s' "${DECOY_DUMP_EXTRA:-}" | tr '\n' ';' | sed 's/;*$//')"
    out "# $1" "" \
        "- machine: $(machine_line "$2")" \
        "- scales: ${SCALE_LIST[*]}; JOBS=$JOBS (decoy's dump.workers, and -j of the reference tools that have one); RSS budget $RSS_BUDGET_MIB MiB" \
        "- extra dump settings (DECOY_DUMP_EXTRA): ${extra:-none}" \
        "- seconds are wall time; vs baseline = seconds / baseline seconds (below 1.00x is faster)" \
        "- peak RSS = largest resident set of the client processes (/usr/bin/time %M, MiB), not the server's" \
        "- MB/s = the scale's COPY/SELECT text output of all tables / seconds (MB = 10^6 bytes); rows/s = all source rows / seconds, for every step"
}

# ---------------------------------------------------------------- decoy configs

# dump_section WORKERS: the `dump:` section of every decoy config of the bench, with the lines
# of DECOY_DUMP_EXTRA (e.g. "split_table_bytes: 64MiB", indented or not) under it.
dump_section() {
    local line
    printf '\ndump:\n  workers: %s\n' "$1"
    while IFS= read -r line; do
        [ -n "${line//[[:space:]]/}" ] || continue
        case "$line" in
            [[:space:]]*) printf '%s\n' "$line" ;;
            *) printf '  %s\n' "$line" ;;
        esac
    done <<<"${DECOY_DUMP_EXTRA:-}"
}

# write_config SRC OUT WORKERS STORE: SRC (a config without `dump:`, its datastore path on a line
# "    path: ...") with the datastore at STORE and dump_section WORKERS appended.
write_config() {
    local src="$1" dst="$2" workers="$3" store="$4"
    if grep -q '^dump:' "$src"; then
        log "$src already has a dump: section"
        return 1
    fi
    sed -e "s#^\(    path: \).*\$#\1$store#" "$src" >"$dst" || return 1
    if ! grep -q "^    path: $store\$" "$dst"; then
        log "could not point $src at the datastore $store"
        return 1
    fi
    dump_section "$workers" >>"$dst"
}

# ---------------------------------------------------------------- timed steps

declare -A SECS RSS STATUS BASES SHORT
STEPS=()

# reset_steps SCALE SCALE_WORK: forget the previous scale's steps; logs go to SCALE_WORK.
reset_steps() {
    CUR_SCALE="$1"
    SCALE_WORK="$2"
    mkdir -p "$SCALE_WORK"
    SECS=()
    RSS=()
    STATUS=()
    STEPS=()
}

# step_file NAME: the path prefix of a step's .log and .time files.
step_file() { printf '%s/%s' "$SCALE_WORK" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_')"; }

# measure NAME CMD...: time CMD, keep its output in $(step_file NAME).log. Wall seconds from
# EPOCHREALTIME (microseconds; /usr/bin/time's %e has only hundredths), peak RSS from GNU time.
measure() {
    local name="$1" f start ok=1
    shift
    f="$(step_file "$name")"
    STEPS+=("$name")
    log "scale $CUR_SCALE: timing $name"
    start="$EPOCHREALTIME"
    /usr/bin/time -f '%M' -o "$f.time" "$@" >"$f.log" 2>&1 || ok=0
    SECS[$name]="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
    # The last line holds the kB (an earlier line may be a "Command exited" note).
    RSS[$name]="$(tail -n 1 "$f.time" 2>/dev/null || true)"
    if [ "$ok" = 1 ]; then
        STATUS[$name]=ok
    else
        STATUS[$name]=FAILED
        FAILED=1
        # The work directory goes at the end (but with KEEP=1); a failed step's log stays.
        mkdir -p "$WORK/failed"
        cp "$f.log" "$WORK/failed/scale-$CUR_SCALE-${f##*/}.log" 2>/dev/null || true
        FAILURES+=("scale $CUR_SCALE: $name (log: $WORK/failed/scale-$CUR_SCALE-${f##*/}.log)")
        log "$name FAILED; last lines of its output:"
        tail -n 15 "$f.log" | sed 's/^/    /' >&2
    fi
}

# ok_secs STEP: the step's seconds if it succeeded, else nothing.
ok_secs() {
    if [ "${STATUS[$1]:-}" = ok ]; then
        printf '%s' "${SECS[$1]:-}"
    fi
}

# ratio A B: A's seconds / B's seconds ("-" unless both succeeded).
ratio() {
    awk -v a="$(ok_secs "$1")" -v b="$(ok_secs "$2")" \
        'BEGIN { if (a == "" || b == "" || b + 0 <= 0) print "-"; else printf "%.2f\n", a / b }'
}

# rss_mib STEP: the step's peak RSS in MiB ("-" if it failed: a stop on an error proves nothing).
rss_mib() {
    local kb=""
    [ "${STATUS[$1]:-}" != ok ] || kb="${RSS[$1]:-}"
    awk -v kb="$kb" 'BEGIN { if (kb == "") print "-"; else printf "%.0f\n", kb / 1024 }'
}

# baseline STEP BASE...: the steps STEP's time is compared with, in the step table.
baseline() {
    local step="$1" IFS=$'\t'
    shift
    BASES[$step]="$*"
}

# step_table ROWS BYTES: the scale's steps (seconds, rows/s and MB/s over ROWS and BYTES, peak
# RSS, ratio to each baseline).
step_table() {
    local rows="$1" bytes="$2" s b vs r
    {
        tsv step status seconds rows/s MB/s "peak RSS MiB" "vs baseline"
        for s in "${STEPS[@]}"; do
            vs=""
            if [ -n "${BASES[$s]:-}" ]; then
                while IFS= read -r b; do
                    r="$(ratio "$s" "$b")"
                    [ "$r" = - ] || r="${r}x"
                    vs="${vs:+$vs, }$r ${SHORT[$b]:-$b}"
                done < <(tr '\t' '\n' <<<"${BASES[$s]}")
            fi
            awk -v step="$s" -v st="${STATUS[$s]:-?}" -v secs="${SECS[$s]:-0}" -v rss="$(rss_mib "$s")" \
                -v rows="$rows" -v bytes="$bytes" -v vs="${vs:--}" 'BEGIN {
                ok = st == "ok" && secs > 0   # no rates for a failed step
                printf "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n", step, st, secs,
                    ok ? sprintf("%.0f", rows / secs) : "-", ok ? sprintf("%.1f", bytes / 1e6 / secs) : "-",
                    rss, vs
            }'
        done
    } | emit_table llrrrrl
}

# target LABEL STEP BASE MAX: met when STEP took at most MAX x BASE's seconds.
target() {
    local label="$1" r
    r="$(ratio "$2" "$3")"
    awk -v label="$label" -v r="$r" -v max="$4" 'BEGIN {
        if (r == "-") { printf "- %s: n/a (a step failed)\n", label; exit }
        printf "- %s: %s (%.2fx the baseline time, target <= %.2fx)\n", label,
               r + 0 <= max + 0 ? "met" : "MISSED", r, max
    }' | tee -a "$REPORT"
}

# rss_target STEP...: each step's peak RSS against the budget.
rss_target() {
    local s m
    for s in "$@"; do
        m="$(rss_mib "$s")"
        if [ "$m" = - ]; then
            out "- peak RSS of $s within $RSS_BUDGET_MIB MiB: n/a (the step failed)"
        elif [ "$m" -le "$RSS_BUDGET_MIB" ]; then
            out "- peak RSS of $s within $RSS_BUDGET_MIB MiB: met ($m MiB)"
        else
            out "- peak RSS of $s within $RSS_BUDGET_MIB MiB: MISSED ($m MiB)"
        fi
    done
}

# The decoy steps every bench times; their names are the report's row labels.
DUMP="decoy dump create"
NORULES="decoy dump, no rules"
RESTORE="decoy dump restore"
SUBSET="decoy 10% subset"

# derive_configs RULES ROOT_TABLE: from RULES (the sample config pointed at the source), the same
# source with no rule (NORULES_BASE: what decoy costs over the streaming limit) and with a 10%
# subset (SUBSET_BASE: ROOT_TABLE at the root, its children two levels down, every parent those
# need); SKIPPED gets the tables the rules skip, which the streaming limit leaves out too.
derive_configs() {
    NORULES_BASE="$WORK/base-norules.yaml"
    awk '/^tables:/ { exit } { print }' "$1" >"$NORULES_BASE"
    SUBSET_BASE="$WORK/base-subset.yaml"
    printf '\nsubset:\n  roots:\n    - { table: %s, percent: 10 }\n  depth: 2\n' "$2" |
        cat "$1" - >"$SUBSET_BASE"
    mapfile -t SKIPPED < <(sed -n 's/^  \([^ #][^ ]*\): skip$/\1/p' "$1")
}

# count_rows DB [TABLE...]: the rows of those tables (default: all of TABLES) in DB, through the
# sourcing script's `count_table DB TABLE`.
count_rows() {
    local db="$1" t total=0 n
    shift
    [ "$#" -gt 0 ] || set -- "${TABLES[@]}"
    for t in "$@"; do
        n="$(count_table "$db" "$t" 2>/dev/null || echo 0)"
        total=$((total + ${n:-0}))
    done
    echo "$total"
}

# decoy_baselines ALL DUMPED REFERENCE_DUMP REFERENCE_RESTORE: what each decoy step is compared
# with (see summary_row for the arguments), and the streaming limit against the reference dump.
decoy_baselines() {
    baseline "$DUMP" "$2" "$3"
    baseline "$NORULES" "$1" "$3"
    baseline "$SUBSET" "$DUMP"
    baseline "$1" "$3"
    baseline "$RESTORE" "$4"
}

# check_restored STEP ROWS WHO: a warning in the report when STEP succeeded but WHO restored ROWS
# rows where the source has $ROWS.
check_restored() {
    # shellcheck disable=SC2153  # ROWS is set by the sourcing script's prepare_source
    if [ "${STATUS[$1]}" = ok ] && [ "$2" -ne "$ROWS" ]; then
        out "- WARNING: $3 restored $2 rows, the source has $ROWS"
    fi
}

# summary_row SCALE BASIS_BYTES ALL DUMPED REFERENCE_DUMP REFERENCE_RESTORE: the scale's row in the
# summary across scales. ALL and DUMPED are the streaming-limit steps over every table and over the
# tables decoy dumps; the REFERENCE steps are the engine's own dump and restore tools.
summary_row() {
    SUMMARY_ROWS+=("$(tsv "$1" "$ROWS" "$(mb "$2")" "$(step_secs "$DUMP")" \
        "$(ratio "$DUMP" "$4")" "$(ratio "$NORULES" "$3")" "$(ratio "$5" "$DUMP")" \
        "$(ratio "$RESTORE" "$6")" "$(rss_mib "$DUMP")" "$(rss_mib "$RESTORE")" "$(rss_mib "$SUBSET")")")
}

# dumped_rows STEP: the rows a decoy dump step reports having written ("?" if it does not say).
dumped_rows() {
    local n
    n="$(sed -n 's/.* complete: [0-9]* tables, \([0-9]*\) rows,.*/\1/p' "$(step_file "$1").log" 2>/dev/null |
        tail -n 1 || true)"
    printf '%s' "${n:-?}"
}

# ---------------------------------------------------------------- scales

is_skipped() {
    local s
    for s in "${SKIPPED[@]}"; do
        [ "$s" = "$1" ] && return 0
    done
    return 1
}

# scale_begin SCALE: the scale's work directory and report heading, its source database
# (prepare_source), DUMPED (TABLES but the skipped ones) and its decoy configs CONFIG,
# NORULES_CONFIG and SUBSET_CONFIG (JOBS workers, one datastore). Non-zero, the failure recorded,
# if the scale cannot run.
scale_begin() {
    local scale="$1" t
    reset_steps "$scale" "$WORK/scale-$scale"
    out "" "## Scale $scale" ""
    if ! prepare_source "$scale"; then
        fail "scale $scale: loading the source database"
        out "- the source database did not load; no step ran"
        SUMMARY_ROWS+=("$(tsv "$scale" "source failed")")
        return 1
    fi
    DUMPED=()
    for t in "${TABLES[@]}"; do
        is_skipped "$t" || DUMPED+=("$t")
    done
    CONFIG="$SCALE_WORK/decoy.yaml"
    NORULES_CONFIG="$SCALE_WORK/decoy-norules.yaml"
    SUBSET_CONFIG="$SCALE_WORK/decoy-subset.yaml"
    # shellcheck disable=SC2153  # RULES_BASE is set by the sourcing script
    if ! write_config "$RULES_BASE" "$CONFIG" "$JOBS" "$SCALE_WORK/store" ||
        ! write_config "$NORULES_BASE" "$NORULES_CONFIG" "$JOBS" "$SCALE_WORK/store" ||
        ! write_config "$SUBSET_BASE" "$SUBSET_CONFIG" "$JOBS" "$SCALE_WORK/store"; then
        fail "scale $scale: writing the decoy configs"
        SUMMARY_ROWS+=("$(tsv "$scale" "config failed")")
        return 1
    fi
}

# bench_run: every scale in order, the sweep at SWEEP_SCALE after that scale's steps (or alone,
# with its own source, if SWEEP_SCALE is not one of the scales). Each scale's work directory and
# the source go before the next scale loads, so disk use does not pile up (except with KEEP=1).
bench_run() {
    local scale
    SWEEP_DONE=0
    SWEEP_SOURCE_ROWS=0
    for scale in "${SCALE_LIST[@]}"; do
        if scale_begin "$scale"; then
            run_scale "$scale"
            if sweep_wanted "$scale" && [ "$SWEEP_DONE" = 0 ]; then
                run_sweep
            fi
        fi
        [ "${KEEP:-0}" = 1 ] || rm -rf "$SCALE_WORK"
    done
    if [ "$SWEEP" != 0 ] && [ "$SWEEP_DONE" = 0 ]; then
        reset_steps "$SWEEP_SCALE" "$WORK/sweep-$SWEEP_SCALE"
        if prepare_source "$SWEEP_SCALE"; then
            run_sweep
        else
            fail "scale $SWEEP_SCALE: loading the source database for the sweep"
        fi
        [ "${KEEP:-0}" = 1 ] || rm -rf "$SCALE_WORK"
    fi
}

# summary_report NOTE COLUMN...: one row per scale (SUMMARY_ROWS, added by run_scale) under NOTE.
summary_report() {
    local note="$1"
    shift
    out "" "## Summary across scales" "" "$note" ""
    {
        tsv "$@"
        printf '%s\n' "${SUMMARY_ROWS[@]}"
    } | emit_table "$(printf 'r%.0s' "$@")"
}

# ---------------------------------------------------------------- workers sweep

# sweep_wanted SCALE: whether the sweep runs at this scale.
sweep_wanted() {
    [ "$SWEEP" != 0 ] && awk -v a="$1" -v b="$SWEEP_SCALE" 'BEGIN { exit !(a + 0 == b + 0) }'
}

# run_sweep: at the current scale (its source loaded), for each of SWEEP_WORKERS: decoy dump
# without rules, with the rules, and restore of the rule-less dump into a fresh DECOY_DB, each
# with dump.workers set to it. Rows go to SWEEP_ROWS for sweep_report.
run_sweep() {
    local w store cfg_r cfg_n d r t peak
    store="$SCALE_WORK/sweep-store"
    for w in "${SWEEP_WORKER_LIST[@]}"; do
        cfg_r="$SCALE_WORK/sweep-rules-$w.yaml"
        cfg_n="$SCALE_WORK/sweep-norules-$w.yaml"
        rm -rf "$store"
        if ! write_config "$RULES_BASE" "$cfg_r" "$w" "$store" || ! write_config "$NORULES_BASE" "$cfg_n" "$w" "$store"; then
            fail "scale $CUR_SCALE: sweep configs for $w workers"
            continue
        fi
        d="sweep $w workers: dump, no rules"
        r="sweep $w workers: dump create"
        t="sweep $w workers: restore"
        measure "$d" "$DECOY" dump create -c "$cfg_n" --name norules
        measure "$r" "$DECOY" dump create -c "$cfg_r" --name full
        recreate_db "$DECOY_DB" || log "could not recreate $DECOY_DB"
        measure "$t" "$DECOY" dump restore norules -c "$cfg_n" --to "$DECOY_URL"
        peak="$(printf '%s\n' "$(rss_mib "$d")" "$(rss_mib "$r")" "$(rss_mib "$t")" | grep -v '^-$' |
            sort -n | tail -n 1 || true)"
        SWEEP_ROWS+=("$(tsv "$w$( [ "$w" -le "$(nproc)" ] || printf ' (> cores)')" \
            "$(step_secs "$d")" "$(step_secs "$r")" "$(step_secs "$t")" "${peak:--}")")
        rm -rf "$store"
    done
    [ "${KEEP:-0}" = 1 ] || drop_db "$DECOY_DB" >/dev/null 2>&1 || true
    SWEEP_DONE=1
    SWEEP_SOURCE_ROWS="${ROWS:-?}"
}

# step_secs STEP: the step's seconds, or FAILED.
step_secs() {
    if [ "${STATUS[$1]:-}" = ok ]; then printf '%.2f' "${SECS[$1]}"; else printf 'FAILED'; fi
}

# sweep_report: the sweep's table.
sweep_report() {
    [ "${#SWEEP_ROWS[@]}" -gt 0 ] || return 0
    out "" "## Workers sweep (scale $SWEEP_SCALE, $SWEEP_SOURCE_ROWS rows, $(nproc) CPUs)" "" \
        "decoy with dump.workers = W: dump without rules, dump with the sample rules, restore of the rule-less dump." ""
    {
        tsv workers "dump, no rules s" "dump create s" "restore s" "peak RSS MiB"
        printf '%s\n' "${SWEEP_ROWS[@]}"
    } | emit_table lrrrr
}
