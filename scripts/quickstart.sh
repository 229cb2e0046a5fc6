#!/usr/bin/env bash
# decoy in one command: create the sample database, dump it with PII faked,
# restore the dump into a fresh database and show the difference.
#
#   scripts/quickstart.sh
#   SCALE=10 scripts/quickstart.sh      # ~10x more rows (default 1, about 21k rows)
#   DECOY_BIN=path/to/decoy scripts/quickstart.sh   # skip the cargo build
#
# Needs PostgreSQL on 127.0.0.1:5432 (scripts/services.sh starts or installs it)
# and a Rust toolchain. Leaves decoy_sample, decoy_sample_copy and ./dumps behind
# so you can explore them; rerunning starts over.
set -euo pipefail

cd "$(dirname "$0")/.."

# Keyed transformers need a salt; a fixed demo one keeps the output reproducible.
export DECOY_SALT="${DECOY_SALT:-decoy-quickstart-demo-salt}"
SCALE="${SCALE:-1}"
CONFIG=fixtures/sample/decoy.yaml
SRC_DB=decoy_sample
COPY_DB=decoy_sample_copy
PG_URL=postgres://postgres@127.0.0.1:5432

# Bold headings on a terminal only, so logs stay free of escape codes.
if [ -t 1 ]; then BOLD=$'\033[1m' RESET=$'\033[0m'; else BOLD='' RESET=''; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
psql_run() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres "$@"; }
recreate_db() {
    # FORCE: an open psql session on the old database must not block the demo.
    psql_run -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\""
}
show_users() {
    psql -X -w -h 127.0.0.1 -U postgres -d "$1" \
        -c 'SELECT id, email, first_name, last_name, phone FROM public.users ORDER BY id LIMIT 5' \
        -c 'SELECT order_id, card_number, cardholder FROM billing.invoices ORDER BY id LIMIT 3'
}

step "Starting PostgreSQL"
bash scripts/services.sh

step "Creating database $SRC_DB from fixtures/sample (scale $SCALE)"
recreate_db "$SRC_DB"
psql_run -d "$SRC_DB" -f fixtures/sample/schema.sql
psql_run -d "$SRC_DB" -v scale="$SCALE" -f fixtures/sample/data.sql

if [ -n "${DECOY_BIN:-}" ]; then
    DECOY="$DECOY_BIN"
else
    step "Building decoy (debug)"
    cargo build --bin decoy
    # Ask cargo where it put the binary (honours CARGO_TARGET_DIR and .cargo/config).
    target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    DECOY="${target_dir:-target}/debug/decoy"
fi
[ -x "$DECOY" ] || { echo "decoy binary not found at $DECOY" >&2; exit 1; }

step "decoy dump create -c $CONFIG"
"$DECOY" dump create -c "$CONFIG"

step "decoy dump restore latest --to $PG_URL/$COPY_DB"
recreate_db "$COPY_DB"
"$DECOY" dump restore latest -c "$CONFIG" --to "$PG_URL/$COPY_DB"

step "decoy dump list -c $CONFIG"
"$DECOY" dump list -c "$CONFIG"

step "Before: $SRC_DB (the 'production' data)"
show_users "$SRC_DB"
step "After: $COPY_DB (restored from the decoy dump)"
show_users "$COPY_DB"

cat <<MSG

Done. Explore with:
  psql -h 127.0.0.1 -U postgres $COPY_DB
  $DECOY dump list -c $CONFIG
  $DECOY plan -c $CONFIG
MSG
