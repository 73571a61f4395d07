#!/usr/bin/env bash
# `make bench`: the benchmark of issue 4, side by side in one run on this machine.
#
# 1. The baseline: the textbook redemption transaction with pgbench -M prepared, on the same
#    PostgreSQL, at several client counts; the best TPS is the baseline.
# 2. A release build of the gateway on its own port against the same PostgreSQL and Redis,
#    driven by `loadtest` (signed requests, verified receipts): redemptions, the default mix,
#    card checks, and whoami (the same signing cost with no ledger).
# 3. The ledger core alone: `ledger-bench` drives the committer directly (no HTTP, no
#    signatures), swept over the number of committers, the batch window and the batch size.
# 4. The exactness check after every writing run (each acknowledged operation in the ledger
#    once, nothing else) and `clubgate check`.
#
# Reports: target/bench/*.md|json|svg and target/bench/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${BENCH_SECS:-20}"
BASELINE_SECS="${BASELINE_SECS:-15}"
CLIENTS="${BENCH_CLIENTS:-32}"
LEDGER_SECS="${LEDGER_SECS:-8}"
PORT="${BENCH_PORT:-8543}"
source scripts/bench-env.sh

log "baseline: textbook transaction, pgbench -M prepared (${BASELINE_SECS}s per client count)"
BASE_URL="${DATABASE_URL%/*}/clubgate_baseline"
"$PGBIN/psql" "$DATABASE_URL" -qtAc "SELECT 1 FROM pg_database WHERE datname = 'clubgate_baseline'" | grep -q 1 \
  || "$PGBIN/psql" "$DATABASE_URL" -qc "CREATE DATABASE clubgate_baseline"
"$PGBIN/psql" "$BASE_URL" -q -f loadtest/pgbench/setup.sql
BEST=0; BEST_CLIENTS=0
for c in 8 16 32 64; do
  tps=$("$PGBIN/pgbench" -n -M prepared -c "$c" -j 2 -T "$BASELINE_SECS" -f loadtest/pgbench/textbook.sql "$BASE_URL" 2>/dev/null \
        | awk '/^tps/ {print $3; exit}')
  log "  $c clients: $tps TPS"
  if awk "BEGIN {exit !($tps > $BEST)}"; then BEST=$tps; BEST_CLIENTS=$c; fi
done
log "baseline: $BEST TPS at $BEST_CLIENTS clients"

log "starting a release gateway on 127.0.0.1:$PORT"
GATEWAY__SERVER__LISTEN="127.0.0.1:$PORT" GATEWAY__LOG__FILTER=warn target/release/clubgate serve >"$OUT/gateway.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf --cacert .data/tls/ca.pem "https://127.0.0.1:$PORT/ready" >/dev/null && break
  sleep 0.2
done

# CPU per request of each process (loadtest reads /proc over its timed window): the gateway, and
# the project-local PostgreSQL (postmaster and backends) and Redis when they are ours.
WATCH="gateway=$PID"
[ -f .data/pg/postmaster.pid ] && WATCH="$WATCH,postgres=$(head -1 .data/pg/postmaster.pid)"
[ -f .data/redis/redis.pid ] && WATCH="$WATCH,redis=$(cat .data/redis/redis.pid)"
run() {
  local label=$1; shift
  log "loadtest: $label"
  target/release/loadtest --url "https://127.0.0.1:$PORT" --duration-secs "$SECS" --clients "${RUN_CLIENTS:-$CLIENTS}" \
    --baseline-tps "$BEST" --out "$OUT" --label "$label" --watch-cpu "$WATCH" "$@" >/dev/null
}
run redeem --mix redeem
RUN_CLIENTS=128 run redeem-128 --mix redeem
# p99 at half of the peak: open loop at half the best redemption rate measured above.
PEAK=$(python3 -c "import json; print(max(json.load(open('$OUT/' + r + '.json'))['total']['per_second'] for r in ('redeem', 'redeem-128')))")
HALF=$(python3 -c "print(int($PEAK / 2))")
log "half of the peak: $HALF requests/s"
run redeem-half --mix redeem --rate "$HALF"
run mix --mix default
run card-check --mix read --no-check
run whoami --mix whoami --no-check
RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
kill $PID; wait $PID 2>/dev/null || true; trap - EXIT

log "ledger core: the committer driven directly (${LEDGER_SECS}s per setting)"
ledger() {
  local label=$1; shift
  log "  $label"
  target/release/ledger-bench --duration-secs "$LEDGER_SECS" --baseline-tps "$BEST" --out "$OUT" --label "$label" \
    ${LEDGER_WATCH:+--watch-cpu "$LEDGER_WATCH"} "$@" >/dev/null
}
LEDGER_RUNS=()
# PostgreSQL's CPU per operation (the bench's own is always reported).
LEDGER_WATCH=""
[ -f .data/pg/postmaster.pid ] && LEDGER_WATCH="postgres=$(head -1 .data/pg/postmaster.pid)"
for n in 1 2 4; do ledger "ledger-c$n" --committers "$n"; LEDGER_RUNS+=("ledger-c$n"); done
for w in 1000 5000; do ledger "ledger-c2-w$w" --committers 2 --batch-window-us "$w"; LEDGER_RUNS+=("ledger-c2-w$w"); done
for m in 10 100; do ledger "ledger-c2-max$m" --committers 2 --batch-max "$m"; LEDGER_RUNS+=("ledger-c2-max$m"); done

log "clubgate check"
CHECK=$(target/release/clubgate check)

{
  echo "# Benchmark summary ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
  echo "- baseline (textbook transaction, pgbench -M prepared, best of 8/16/32/64 clients): **$BEST TPS** at $BEST_CLIENTS clients"
  echo "- gateway peak resident memory: $((RSS_KB / 1024)) MB"
  echo "- ledger after the runs: $CHECK" | tr '\n' ' '
  echo
  for label in redeem redeem-128 redeem-half mix card-check whoami; do echo; sed 's/^# /## /' "$OUT/$label.md"; done
  echo
  echo "## Ledger core (committer driven directly): committers, batch window, batch size"
  echo
  echo "| run | committers | window µs | batch max | operations/s | × baseline | p99 ms | mean batch | mean batch ms | PostgreSQL CPU µs/op | bench CPU µs/op | exact |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for label in "${LEDGER_RUNS[@]}"; do
    python3 - "$OUT/$label.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = r.get('cpu_us_per_operation', {})
print(f"| {r['label']} | {r['committers']} | {r['batch_window_us']} | {r['batch_max']} | {r['operations_per_second']:.0f} "
      f"| {r['ratio_to_baseline'] or 0:.2f}× | {r['latency_ms']['p99']:.1f} | {r['mean_batch_size']:.1f} "
      f"| {r['mean_batch_ms']:.1f} | {cpu.get('postgres', 0):.0f} | {cpu.get('loadtest', 0):.0f} | {'yes' if r['exact'] else 'NO'} |")
PY
  done
} >"$OUT/summary.md"
log "wrote $OUT/summary.md"
cat "$OUT/summary.md"
