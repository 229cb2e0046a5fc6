#!/usr/bin/env bash
# decoy in one command, with no database server at all: anonymize the sample database's pg_dump
# file (fixtures/sample/sample.pgdump.sql, made by scripts/make-sample-dump.sh) into a dump in
# ./dumps, restore that dump to restored.sql, and show rows before and after.
#
#   scripts/quickstart-file.sh
#   DECOY_BIN=path/to/decoy scripts/quickstart-file.sh   # skip the cargo build
#
# Needs only a Rust toolchain. Load the result into any PostgreSQL with
#   psql -v ON_ERROR_STOP=1 -d NEW_EMPTY_DB -f restored.sql
set -euo pipefail

cd "$(dirname "$0")/.."

# Keyed transformers need a salt; a fixed demo one keeps the output reproducible.
export DECOY_SALT="${DECOY_SALT:-decoy-quickstart-demo-salt}"
CONFIG=fixtures/sample/decoy.yaml
FILE=fixtures/sample/sample.pgdump.sql
OUT=restored.sql

if [ -t 1 ]; then BOLD=$'\033[1m' RESET=$'\033[0m'; else BOLD='' RESET=''; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
# The first rows of the users' COPY block of a plain SQL file.
show_users() { awk '/^COPY "?public"?\."?users"? /{print; on=1; next} /^\\\.$/{on=0} on && n++ < 5' "$1"; }

if [ -n "${DECOY_BIN:-}" ]; then
    DECOY="$DECOY_BIN"
else
    step "Building decoy (debug)"
    cargo build --bin decoy
    target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    DECOY="${target_dir:-target}/debug/decoy"
fi
[ -x "$DECOY" ] || { echo "decoy binary not found at $DECOY" >&2; exit 1; }

step "decoy dump create --from-file $FILE -c $CONFIG"
"$DECOY" dump create --from-file "$FILE" -c "$CONFIG"

step "decoy dump restore latest -c $CONFIG --output $OUT"
"$DECOY" dump restore latest -c "$CONFIG" --output "$OUT"

step "Before: $FILE (the 'production' data)"
show_users "$FILE"
step "After: $OUT (restored from the decoy dump)"
show_users "$OUT"

cat <<MSG

Done, without a database server. Next:
  $DECOY dump list -c $CONFIG
  psql -v ON_ERROR_STOP=1 -d NEW_EMPTY_DB -f $OUT            # load the anonymized copy
  $DECOY dump restore latest -c $CONFIG --local postgres:16  # or into a throwaway container (Docker)
  bash scripts/quickstart.sh                                 # the same from a live PostgreSQL
MSG
