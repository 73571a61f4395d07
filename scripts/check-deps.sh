#!/usr/bin/env bash
# `make lint`: the domain crate stays pure (STYLE.md, workspace layout): no actix, diesel, redis
# or tokio-postgres anywhere in its normal dependency tree (`cargo tree -e normal`), not even
# through another crate. On a failure it prints the offending packages and, for each one that
# enters through an allowed package, the path that pulls it in (`cargo tree -i`).
#
#   scripts/check-deps.sh                     checks clubgate-domain
#   DOMAIN_PACKAGE=partners scripts/check-deps.sh   checks another package
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="${DOMAIN_PACKAGE:-clubgate-domain}"
# Package names, matched whole: actix and actix-*, diesel*, redis, tokio-postgres.
FORBIDDEN='^(actix|actix-.*|diesel.*|redis|tokio-postgres)$'

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# One line per package in the tree: "name version" (a path follows for workspace crates).
tree() {
  local out err
  err=$(mktemp)
  if ! out=$(cargo tree --locked -e normal -p "$PACKAGE" --prefix none --format '{p}' "$@" 2>"$err"); then
    cat "$err" >&2; rm -f "$err"
    die "cargo tree failed for package '$PACKAGE' (set DOMAIN_PACKAGE to the domain crate's name)"
  fi
  rm -f "$err"
  printf '%s\n' "$out" | sed 's/ (\*)$//'
}
forbidden() { awk -v re="$FORBIDDEN" '$1 ~ re'; }

offenders=$(tree | forbidden | sort -u)
if [ -z "$offenders" ]; then
  echo "check-deps: $PACKAGE depends on none of actix, diesel, redis, tokio-postgres"
  exit 0
fi

{
  echo "check-deps: $PACKAGE must not depend on actix, diesel, redis or tokio-postgres; its tree has:"
  printf '%s\n' "$offenders" | sed 's/^/  /'
  # A forbidden package that only forbidden packages depend on comes in with them: show the
  # paths of the others, the ones some allowed package (or $PACKAGE itself) depends on.
  while read -r name version _; do
    spec="$name@${version#v}"
    if tree -i "$spec" --depth 1 | tail -n +2 | awk -v re="$FORBIDDEN" '$1 !~ re {found = 1} END {exit !found}'; then
      echo
      echo "how $name $version gets in (cargo tree -e normal -p $PACKAGE -i $spec):"
      cargo tree --locked -e normal -p "$PACKAGE" -i "$spec"
    fi
  done <<<"$offenders"
} >&2
exit 1
