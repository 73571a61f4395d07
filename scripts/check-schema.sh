#!/usr/bin/env bash
# `make check-schema` (run by `make test`): the migrations apply, every down.sql really undoes its
# up.sql, and the checked-in schema.rs is exactly what `diesel print-schema` generates.
#
#   scripts/check-schema.sh           check; on a difference, print it and how to regenerate
#   scripts/check-schema.sh --write   regenerate the checked-in file instead of comparing
#
# It works on a fresh temporary database of the cluster in DATABASE_URL (by default the
# project-local one of .data/services.env, with another database name), dropped at the end even
# on failure, so it never touches the development database:
# 1. diesel migration run             every migration applies to an empty database;
# 2. diesel migration redo --all      every down.sql reverts, everything applies again, and the
#                                     schema (pg_dump --schema-only) is the same as after step 1;
# 3. diesel migration revert --all    the down.sql files leave nothing behind: the schema is that
#                                     of the empty database (redo alone misses, say, a table made
#                                     with IF NOT EXISTS that no down.sql drops); then run again;
# 4. diesel print-schema              with diesel.toml's options, compared with the file named by
#                                     its [print_schema] file.
# The diesel CLI is installed at the pinned version if missing (scripts/dev-services.sh diesel).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

WRITE=0
case "${1:-}" in
  "") ;;
  --write) WRITE=1 ;;
  *) die "usage: $0 [--write]" ;;
esac

SCHEMA=$(awk -F'"' '/^\[/ {section = $0} section == "[print_schema]" && $1 ~ /^file *= *$/ {print $2; exit}' diesel.toml)
[ -n "$SCHEMA" ] || die "diesel.toml names no [print_schema] file"

if [ -z "${DATABASE_URL:-}" ]; then
  [ -f .data/services.env ] || die "no DATABASE_URL and no .data/services.env: run 'make services' first"
  source .data/services.env
fi
DIESEL=$(scripts/dev-services.sh diesel)
PGBIN=$(scripts/dev-services.sh bindir 2>/dev/null || true)
if [ -z "$PGBIN" ]; then
  command -v psql >/dev/null || die "psql and pg_dump not found: install postgresql-client"
  PGBIN=$(dirname "$(command -v psql)")
fi

# The same server and credentials, another database: postgres://user@host:port/NAME?params
DB="clubgate_schema_check_$$_$RANDOM"
base=${DATABASE_URL%%\?*}
params=${DATABASE_URL:${#base}}
rest=${base#*://}
[[ $rest == */* ]] && base=${base%/*}
CHECK_URL="$base/$DB$params"

TMP=$(mktemp -d)
CREATED=0
cleanup() {
  if [ "$CREATED" -eq 1 ]; then
    PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null \
      || printf 'warning: could not drop the temporary database %s\n' "$DB" >&2
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The migration commands get a configuration without [print_schema], or they would rewrite the
# checked-in schema file themselves; print-schema gets the repository's diesel.toml. Quiet on
# success, the whole output on failure.
printf '# scripts/check-schema.sh: migrations only, no schema file.\n' >"$TMP/migrations.toml"
migration() {
  local out
  if ! out=$("$DIESEL" migration "$@" --migration-dir migrations --database-url "$CHECK_URL" \
      --config-file "$TMP/migrations.toml" 2>&1); then
    printf '%s\n' "$out" >&2
    die "diesel migration $* failed (output above)"
  fi
}
# Comments and the per-dump random \restrict key (pg_dump since 15.14) left out.
dump() {
  "$PGBIN/pg_dump" --schema-only --no-owner --no-privileges --exclude-table=__diesel_schema_migrations \
    "$CHECK_URL" | grep -Ev '^(--|\\(un)?restrict )' >"$1"
}
# Dumps $1 and compares it with the earlier dump $2: the schema must be the same.
same_schema() {
  dump "$TMP/$1.sql"
  if ! diff -u --label "$2" --label "$1" "$TMP/$2.sql" "$TMP/$1.sql" >&2; then
    die "the schema $1 differs from the one $2 (diff above): a down.sql does not undo its up.sql"
  fi
}

log "creating the temporary database $DB"
CREATED=1
# psql ignores SIGTERM here (Ctrl-C still cancels the statement): killed halfway, it would leave the
# server creating the database after the cleanup's DROP had found none.
(trap '' TERM; exec "$PGBIN/psql" "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DB\"" >/dev/null)
dump "$TMP/before migrations.sql"
log "diesel migration run"
migration run
dump "$TMP/after migration run.sql"
log "diesel migration redo --all (every down.sql, then every up.sql again)"
migration redo --all
same_schema "after migration redo --all" "after migration run"
log "diesel migration revert --all, then run again"
migration revert --all
same_schema "after migration revert --all" "before migrations"
migration run

log "diesel print-schema (diesel.toml)"
"$DIESEL" print-schema --database-url "$CHECK_URL" --config-file diesel.toml >"$TMP/schema.rs"

if [ "$WRITE" -eq 1 ]; then
  [ -d "$(dirname "$SCHEMA")" ] || die "$(dirname "$SCHEMA") does not exist (diesel.toml: [print_schema] file = \"$SCHEMA\")"
  cp "$TMP/schema.rs" "$SCHEMA"
  log "wrote $SCHEMA"
elif [ ! -f "$SCHEMA" ]; then
  die "$SCHEMA (diesel.toml) does not exist; generate it with: scripts/check-schema.sh --write"
elif ! diff -u --label "$SCHEMA (checked in)" --label "diesel print-schema" "$SCHEMA" "$TMP/schema.rs"; then
  die "$SCHEMA is not what 'diesel print-schema' generates from the migrations (diff above).
Don't edit it by hand; regenerate it with: scripts/check-schema.sh --write"
else
  log "$SCHEMA matches the migrations"
fi
