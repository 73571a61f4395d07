#!/usr/bin/env bash
# Backups of the ledger's PostgreSQL: base backups (pg_basebackup) and the WAL streamed
# synchronously (pg_receivewal), so a restore loses no acknowledged transaction. See
# docs/operations.md, "Backups", for why this design and what it costs.
#
#   scripts/backup.sh start            stream the WAL into $BACKUP_DIR/wal; commits wait for it
#   scripts/backup.sh stop             stop streaming; commits no longer wait
#   scripts/backup.sh backup           start streaming if needed, take a base backup, verify it
#   scripts/backup.sh restore DIR [P]  restore the latest base backup into DIR (a new data
#                                      directory), replaying the WAL to its end or to restore point P
#   scripts/backup.sh drill            restore the latest backup into a scratch cluster at a fresh
#                                      restore point and prove it identical to the live ledger there
#   scripts/backup.sh status           what is streamed and kept
#
# DATABASE_URL is the live database (`make backup` loads .data/services.env). BACKUP_DIR defaults
# to .data/backups; BACKUP_KEEP (2) base backups are kept, and the WAL the oldest one needs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BACKUP_DIR="${BACKUP_DIR:-$ROOT/.data/backups}"
BACKUP_KEEP="${BACKUP_KEEP:-2}"
CLUBGATE="${CLUBGATE:-$ROOT/target/debug/clubgate}"
SLOT=clubgate_backup
: "${DATABASE_URL:?set DATABASE_URL to the live database (make backup does)}"
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
  "$ROOT/scripts/dev-services.sh" bindir || die "PostgreSQL's programs not found (set PG_BINDIR)"
}
BIN="$(bindir)"

# The server and these files belong to `postgres` when run as root: the restored server must
# read the streamed WAL, and PostgreSQL refuses to run as root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
own() {
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$@"; fi
}

psql_live() { "$BIN/psql" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# The replication connection: the live server, named so the server can wait for it.
stream_url() {
  case "$DATABASE_URL" in
    *\?*) echo "$DATABASE_URL&application_name=$SLOT" ;;
    *) echo "$DATABASE_URL?application_name=$SLOT" ;;
  esac
}

streaming() { pgrep -f "pg_receivewal -D $BACKUP_DIR/wal" >/dev/null; }

start() {
  mkdir -p "$BACKUP_DIR/wal" "$BACKUP_DIR/base"
  own "$BACKUP_DIR" "$BACKUP_DIR/wal" "$BACKUP_DIR/base"
  # A slot makes the server keep every WAL segment the stream has not received, so a stream that
  # stops and starts again has no gap.
  as_pg "$BIN/pg_receivewal" -d "$(stream_url)" --slot="$SLOT" --create-slot --if-not-exists 2>&1 \
    | grep -v "already exists" >&2 || true
  if ! streaming; then
    log "streaming the WAL into $BACKUP_DIR/wal"
    # Without --no-loop it reconnects by itself when the server restarts; setsid keeps a Ctrl-C
    # meant for `make run` from stopping it (commits would then wait for it).
    local run=()
    [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
    setsid "${run[@]}" "$BIN/pg_receivewal" -D "$BACKUP_DIR/wal" --slot="$SLOT" --synchronous \
      -d "$(stream_url)" </dev/null >>"$BACKUP_DIR/receivewal.log" 2>&1 &
  fi
  # Commits wait until the stream has the WAL on disk: an acknowledged transaction is in the
  # backup folder before the gateway answers.
  psql_live "ALTER SYSTEM SET synchronous_standby_names = '$SLOT'"
  psql_live "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 1 100); do
    [ "$(psql_live "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SLOT'")" = sync ] && return
    sleep 0.1
  done
  die "the WAL stream did not start (see $BACKUP_DIR/receivewal.log)"
}

stop() {
  psql_live "ALTER SYSTEM RESET synchronous_standby_names" || true
  psql_live "SELECT pg_reload_conf()" >/dev/null || true
  pkill -f "pg_receivewal -D $BACKUP_DIR/wal" || true
  # A slot nobody reads keeps every WAL segment on the server's disk: drop it. The stream then
  # has a gap from here, so the base backups taken so far restore only up to this point.
  for _ in $(seq 1 50); do  # the stream's session ends a moment after the process
    [ "$(psql_live "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND active")" = 0 ] && break
    sleep 0.1
  done
  psql_live "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null || true
  log "WAL streaming stopped; after 'start', take a new base backup (make backup)"
}

latest() { ls -d "$BACKUP_DIR"/base/*/ 2>/dev/null | sort | tail -n 1 | sed 's:/$::'; }

backup() {
  start
  local stamp target
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  target="$BACKUP_DIR/base/$stamp"
  log "base backup into $target"
  as_pg "$BIN/pg_basebackup" -d "$DATABASE_URL" -D "$target" -Fp -X none --checkpoint=fast \
    --label="clubgate-$stamp" --progress >&2
  # The manifest's checksums, file by file (the WAL is checked by the restore itself).
  as_pg "$BIN/pg_verifybackup" --no-parse-wal --quiet "$target"
  log "verified: $(du -sh "$target" | cut -f1) in $target"
  prune
}

# Keeps the newest BACKUP_KEEP base backups and the WAL from the oldest kept one's start.
prune() {
  local old oldest first
  mapfile -t old < <(ls -d "$BACKUP_DIR"/base/*/ | sort | head -n "-$BACKUP_KEEP")
  for dir in "${old[@]}"; do log "removing the old base backup $dir"; rm -rf "$dir"; done
  oldest=$(ls -d "$BACKUP_DIR"/base/*/ | sort | head -n 1)
  first=$(sed -n 's/^START WAL LOCATION: .*(file \(.*\))$/\1/p' "$oldest/backup_label")
  [ -n "$first" ] && as_pg "$BIN/pg_archivecleanup" "$BACKUP_DIR/wal" "$first"
}

# restore DIR [RESTORE_POINT]: DIR must not exist. The server is not started.
restore() {
  local target="$1" point="${2:-}" base
  base=$(latest)
  [ -n "$base" ] || die "no base backup in $BACKUP_DIR/base (scripts/backup.sh backup takes one)"
  [ ! -e "$target" ] || die "$target exists: restore into a new directory"
  log "restoring $base into $target${point:+ up to the restore point $point}"
  mkdir -p "$target"
  cp -a "$base/." "$target/"
  own -R "$target"
  chmod 700 "$target"
  # The last segment is still being written: the stream keeps it as `.partial`, and recovery
  # replays it up to the last record it holds.
  cat >>"$target/postgresql.auto.conf" <<EOF
restore_command = 'if [ -f "$BACKUP_DIR/wal/%f" ]; then cp "$BACKUP_DIR/wal/%f" "%p"; else cp "$BACKUP_DIR/wal/%f.partial" "%p"; fi'
recovery_target_action = 'promote'
${point:+recovery_target_name = '$point'}
# The restored server streams to no one until 'scripts/backup.sh start' runs against it.
synchronous_standby_names = ''
EOF
  touch "$target/recovery.signal"
  own "$target/postgresql.auto.conf" "$target/recovery.signal"
}

free_port() {
  local port
  for port in $(seq 56400 56499); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  die "no free port in 56400-56499"
}

drill() {
  [ -x "$CLUBGATE" ] || die "$CLUBGATE is missing: make build"
  [ -n "$(latest)" ] || backup
  streaming || start
  local name scratch port url lsn started
  started=$(date +%s)
  name="drill-$(date -u +%Y%m%dT%H%M%SZ)"
  scratch="$BACKUP_DIR/drill/$name"
  mkdir -p "$scratch"
  own "$BACKUP_DIR/drill" "$scratch"
  "$CLUBGATE" backup restore-point --name "$name" --out "$scratch/live.json"
  lsn=$(sed -n 's/.*"lsn":"\([^"]*\)".*/\1/p' "$scratch/live.json")
  # The restore point's record must be in the stream before recovery can stop at it.
  for _ in $(seq 1 300); do
    [ "$(psql_live "SELECT flush_lsn >= '$lsn'::pg_lsn FROM pg_stat_replication WHERE application_name = '$SLOT'")" = t ] && break
    sleep 0.1
  done
  restore "$scratch/data" "$name"
  port=$(free_port)
  local user="${DATABASE_URL#*://}" database="${DATABASE_URL##*/}"
  user="${user%%@*}"
  url="postgres://$user@127.0.0.1:$port/${database%%\?*}"
  # Expanded now: the trap runs after this function's locals are gone.
  trap "as_pg '$BIN/pg_ctl' -D '$scratch/data' -m immediate stop >/dev/null 2>&1 || true; rm -rf '$scratch'" EXIT
  log "starting the restored copy on port $port"
  as_pg "$BIN/pg_ctl" -D "$scratch/data" -l "$scratch/server.log" -w -t 600 \
    -o "-p $port -c unix_socket_directories=$scratch -c listen_addresses=127.0.0.1" start >/dev/null
  for _ in $(seq 1 6000); do
    [ "$("$BIN/psql" "$url" -qAtX -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
    sleep 0.1
  done
  [ "$("$BIN/psql" "$url" -qAtX -c 'SELECT pg_is_in_recovery()')" = f ] || die "recovery did not finish (see $scratch/server.log)"
  echo "restore drill: $(basename "$(latest)") and the streamed WAL, restored to $name"
  # Both are reported: a copy identical to an inexact live ledger is a sound backup of a ledger
  # with another problem.
  local failed=0
  DATABASE_URL="$url" "$CLUBGATE" backup verify --expected "$scratch/live.json" || failed=1
  DATABASE_URL="$url" "$CLUBGATE" check || failed=1
  echo "the drill took $(( $(date +%s) - started )) s"
  [ "$failed" -eq 0 ] || die "the restore drill failed (see above)"
}

status() {
  if streaming; then echo "WAL streaming: on ($BACKUP_DIR/wal)"; else echo "WAL streaming: off"; fi
  echo "synchronous_standby_names: '$(psql_live 'SHOW synchronous_standby_names')'"
  psql_live "SELECT 'slot ' || slot_name || ': ' || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) || ' of WAL held' FROM pg_replication_slots WHERE slot_name = '$SLOT'"
  echo "base backups:"; ls -1 "$BACKUP_DIR/base" 2>/dev/null | sed 's/^/  /'
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  backup) backup ;;
  restore) [ -n "${2:-}" ] || die "usage: $0 restore DIR [RESTORE_POINT]"; restore "$2" "${3:-}" ;;
  drill) drill ;;
  status) status ;;
  *) die "usage: $0 start|stop|backup|restore DIR [POINT]|drill|status" ;;
esac
