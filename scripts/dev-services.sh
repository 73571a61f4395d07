#!/usr/bin/env bash
# Project-local PostgreSQL and Redis for `make run` and `make test`.
#
#   scripts/dev-services.sh up     install what is missing, start both, write .data/services.env
#   scripts/dev-services.sh down   stop both
#   scripts/dev-services.sh python a virtualenv (.data/venv) with the interop test's packages
#   scripts/dev-services.sh diesel the diesel CLI (installed if missing); prints its path
#   scripts/dev-services.sh browser Debian's Chromium and ChromeDriver for the page tests
#
# When DATABASE_URL (or REDIS_URL) is already set, that server is used as it is and nothing
# local is started for it. Everything lives under .data/ on ports of its own, so it never
# touches a system-wide cluster. Idempotent: running `up` twice starts nothing twice.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
PG_PORT="${CLUBGATE_PG_PORT:-55432}"
REDIS_PORT="${CLUBGATE_REDIS_PORT:-56379}"
PG_USER=clubgate
PG_DB=clubgate

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $* (install it yourself, or point DATABASE_URL / REDIS_URL at existing servers)"
  fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* yourself, or set DATABASE_URL / REDIS_URL"
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_bindir() {
  local dir
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user.
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_data_dir() {
  # The cluster lives in .data/pg unless the postgres user cannot reach this checkout
  # (e.g. a clone under /root); then it lives under /var/tmp, keyed by the checkout path.
  local dir="$DATA/pg"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$DATA"; then
    dir="/var/tmp/clubgate-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)/pg"
  fi
  echo "$dir"
}

start_postgres() {
  local bindir pgdata
  bindir=$(pg_bindir || true)
  if [ -z "$bindir" ]; then
    apt_install postgresql
    bindir=$(pg_bindir) || die "PostgreSQL installed but initdb not found"
  fi
  pgdata=$(pg_data_dir)
  mkdir -p "$(dirname "$pgdata")"
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $pgdata"
    mkdir -p "$pgdata"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pgdata" && chmod 700 "$pgdata"
    pg_run "$bindir/initdb" -D "$pgdata" -U "$PG_USER" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$pgdata/postgresql.conf" <<EOF
# clubgate development cluster: loopback only, its own port, durable commits.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
synchronous_commit = on
fsync = on
EOF
  fi
  if pg_run "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg_run "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 start >/dev/null \
      || { tail -n 20 "$pgdata/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  fi
  if ! "$bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    "$bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $PG_DB" >&2
  fi
  DATABASE_URL="postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
  # With backups on (`make backup`), commits wait for the WAL stream: start it with the server.
  if [ "$("$bindir/psql" "$DATABASE_URL" -tAc 'SHOW synchronous_standby_names')" = clubgate_backup ]; then
    DATABASE_URL="$DATABASE_URL" "$ROOT/scripts/backup.sh" start
  fi
}

start_redis() {
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server
  fi
  mkdir -p "$DATA/redis"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT"
  else
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
      --dir "$DATA/redis" --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log" \
      --save '' --appendonly no
    for _ in $(seq 1 100); do
      redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "Redis did not start (see $DATA/redis/redis.log)"
  fi
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

up() {
  mkdir -p "$DATA"
  # pgrep/pkill: the backups' WAL stream (scripts/backup.sh) and the fault tests find it by them.
  command -v pkill >/dev/null || apt_install procps
  if [ -n "${DATABASE_URL:-}" ]; then log "using DATABASE_URL as given"; else start_postgres; fi
  if [ -n "${REDIS_URL:-}" ]; then log "using REDIS_URL as given"; else start_redis; fi
  cat >"$DATA/services.env" <<EOF
export DATABASE_URL='$DATABASE_URL'
export REDIS_URL='$REDIS_URL'
EOF
}

down() {
  local bindir pgdata
  bindir=$(pg_bindir || true)
  pgdata=$(pg_data_dir)
  if [ -n "$bindir" ] && [ -s "$pgdata/PG_VERSION" ] && pg_run "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    # The WAL stream, if backups are on, goes first; `up` starts it again.
    pkill -f "pg_receivewal -D $DATA/backups/wal" || true
    log "stopping PostgreSQL"
    pg_run "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
  fi
  if command -v redis-cli >/dev/null && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "stopping Redis"
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
}

# A virtualenv with the independent RFC 9421 implementation the interop test uses.
python_deps() {
  local venv="$DATA/venv" requirements="$ROOT/tests/interop/requirements.txt"
  mkdir -p "$DATA"
  command -v python3 >/dev/null || apt_install python3 python3-venv
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  fi
  if ! cmp -s "$requirements" "$venv/.requirements" 2>/dev/null; then
    log "installing $(tr '\n' ' ' <"$requirements")"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/.requirements"
  fi
}

# Headless Chromium and its WebDriver from Debian's packages, for the page tests (tests/api/pages).
browser_deps() {
  if ! command -v chromedriver >/dev/null || ! { command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; }; then
    apt_install chromium chromium-driver
  fi
  command -v chromedriver >/dev/null || die "chromium-driver installed but chromedriver not found"
}

# The diesel CLI (print-schema, migration run/redo: scripts/check-schema.sh) at a pinned version of
# the same minor release as the workspace's diesel (Cargo.lock), so that every machine generates
# the same schema.rs. It goes where `cargo install` puts binaries ($CARGO_HOME/bin, on the
# Makefile's PATH), not under .data/: a developer's machine and a CI runner that keeps its home
# directory build it once (a few minutes), whereas .data/ is new on every clean clone.
DIESEL_CLI_VERSION=2.3.14

# The version of the diesel CLI at $1 ("2.3.14") if it was built with PostgreSQL, else nothing.
diesel_version() {
  local long short
  long=$("$1" --version 2>/dev/null) || return 0
  [[ $long == *"Supported Backends:"*postgres* ]] || return 0
  short=$("$1" -V 2>/dev/null) || return 0
  echo "${short#diesel }"
}

diesel_cli() {
  local locked bin libdir
  locked=$(awk '$0 == "name = \"diesel\"" {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")
  [ "${locked%.*}" = "${DIESEL_CLI_VERSION%.*}" ] \
    || die "Cargo.lock has diesel $locked but DIESEL_CLI_VERSION is $DIESEL_CLI_VERSION: update it in $0"
  for bin in "$(command -v diesel || true)" "$(cargo_bin_dir)/diesel"; do
    if [ -n "$bin" ] && [ -x "$bin" ] && [ "$(diesel_version "$bin")" = "$DIESEL_CLI_VERSION" ]; then
      log "diesel $DIESEL_CLI_VERSION: $bin"
      echo "$bin"; return
    fi
  done
  if bin=$(command -v diesel); then
    log "$bin is not diesel $DIESEL_CLI_VERSION with PostgreSQL ($("$bin" -V 2>&1 || true)); installing that version"
  fi
  # diesel_cli links libpq (pq-sys); Debian ships libpq.so and pg_config in libpq-dev.
  libdir=$(pg_config --libdir 2>/dev/null || true)
  if [ -z "$libdir" ] || [ ! -e "$libdir/libpq.so" ]; then
    apt_install libpq-dev
  fi
  command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup)"
  log "cargo install diesel_cli $DIESEL_CLI_VERSION (postgres only); this takes a few minutes, once"
  cargo install diesel_cli --version "=$DIESEL_CLI_VERSION" --no-default-features --features postgres \
    --locked --quiet >&2
  bin="$(cargo_bin_dir)/diesel"
  [ "$(diesel_version "$bin")" = "$DIESEL_CLI_VERSION" ] || die "cargo install did not produce $bin"
  log "installed diesel $DIESEL_CLI_VERSION: $bin"
  echo "$bin"
}

# Where `cargo install` puts binaries: --root / CARGO_INSTALL_ROOT, else $CARGO_HOME/bin.
cargo_bin_dir() {
  if [ -n "${CARGO_INSTALL_ROOT:-}" ]; then echo "$CARGO_INSTALL_ROOT/bin"
  else echo "${CARGO_HOME:-$HOME/.cargo}/bin"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  python) python_deps ;;
  bindir) pg_bindir ;;
  diesel) diesel_cli ;;
  browser) browser_deps ;;
  *) die "usage: $0 up|down|python|diesel|browser|bindir" ;;
esac
