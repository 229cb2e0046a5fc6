#!/usr/bin/env bash
# Regenerates fixtures/sample/sample.pgdump.sql: the sample database (fixtures/sample/schema.sql and
# data.sql at a small scale) as a plain-SQL pg_dump file, for the quick start that needs no server
# (scripts/quickstart-file.sh) and for tests.
#
#   scripts/make-sample-dump.sh            # SCALE=0.05 by default (about 1,000 rows)
#
# Needs PostgreSQL on 127.0.0.1:5432 (scripts/services.sh) and pg_dump. The output is stable for a
# given scale and PostgreSQL version: data.sql is deterministic, and pg_dump's per-run `\restrict`
# keys are left out.
set -euo pipefail

cd "$(dirname "$0")/.."

SCALE="${SCALE:-0.05}"
DB="decoy_sample_dumpfile_$$"
OUT=fixtures/sample/sample.pgdump.sql
PG=(-X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres)

psql "${PG[@]}" -d postgres -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
trap 'psql "${PG[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null' EXIT
PGOPTIONS="-c client_min_messages=warning" psql "${PG[@]}" -d "$DB" -f fixtures/sample/schema.sql
PGOPTIONS="-c client_min_messages=warning" psql "${PG[@]}" -d "$DB" -v scale="$SCALE" -f fixtures/sample/data.sql

pg_dump --no-owner --no-privileges -h 127.0.0.1 -p 5432 -U postgres -d "$DB" \
    | grep -v -e '^\\restrict ' -e '^\\unrestrict ' > "$OUT.partial"
mv "$OUT.partial" "$OUT"
echo "wrote $OUT ($(wc -c < "$OUT") bytes)"
