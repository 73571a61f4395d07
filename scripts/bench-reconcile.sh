#!/usr/bin/env bash
# `make bench-reconcile`: the reconciliation benchmark of issue 5.
#
# 1. Grows the partner's ledger through the real ledger committer (`ledger-bench`, earns only)
#    until it holds at least RECONCILE_ROWS (1,000,000) reconcilable transfers.
# 2. `clubgate demo partner-file` writes the partner's own file from the ledger with
#    RECONCILE_SEEDS (1,000) seeded differences of each class.
# 3. `clubgate reconcile` (release) streams the file against the ledger; the wall time covers
#    reading the ledger side from PostgreSQL, parsing and matching every row, and the report.
# 4. Exactness: the report's count per status must equal what was seeded.
#
# Report: target/bench/reconcile.md|json.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTNER="${RECONCILE_PARTNER:-azadi-hotel}"
ROWS="${RECONCILE_ROWS:-1000000}"
SEEDS="${RECONCILE_SEEDS:-1000}"
source scripts/bench-env.sh

count() {
  "$PGBIN/psql" "$DATABASE_URL" -qtAc "SELECT count(*) FROM transfers t JOIN partners p ON p.id = t.partner_id
     WHERE p.code = '$PARTNER' AND t.phase IN ('single', 'post')
       AND t.code IN ('earn', 'redeem', 'earn_reversal', 'redeem_reversal')"
}
while [ "$(count)" -lt "$ROWS" ]; do
  log "growing the ledger: $(count) of $ROWS transfers for $PARTNER (ledger-bench, earns only, 30 s)"
  target/release/ledger-bench --redeem-percent 0 --duration-secs 30 --committers 2 \
    --out "$OUT/grow" --label grow >/dev/null
done

FILE="$OUT/partner-file-$PARTNER.csv"
log "writing the partner file ($SEEDS seeds of each class)"
target/release/clubgate demo partner-file --partner "$PARTNER" --seeds "$SEEDS" "$FILE" | tee "$OUT/partner-file.txt"
WINDOW=$(awk '/^run:/ {print $6, $7, $8, $9}' "$OUT/partner-file.txt")

log "reconciling"
# shellcheck disable=SC2086 # the window is four words on purpose
python3 - "$OUT" "$FILE" "$PARTNER" $WINDOW <<'PY'
import json, platform, resource, subprocess, sys, time
out, file, partner, window = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
expected = {}
for line in open(f"{out}/partner-file.txt"):
    parts = line.split()
    if len(parts) == 2 and parts[1].isdigit():
        expected[parts[0]] = int(parts[1])
started = time.monotonic()
run = subprocess.run(["target/release/clubgate", "reconcile", "--partner", partner, *window, file],
                     capture_output=True, text=True, check=True)
seconds = time.monotonic() - started
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
report = json.loads(run.stdout)
counts = {t["status"]: t["count"] for t in report["totals"]}
exact = counts == expected
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) // 1048576
import os
machine = f"{os.cpu_count()} cores, {mem} GiB, {cpu}"
rows = "\n".join(f"| {s} | {expected.get(s, 0):,} | {counts.get(s, 0):,} |" for s in counts)
md = f"""# Reconciliation: {report['rows']:,} partner rows against {report['ledger_transfers']:,} ledger transfers

- machine: {machine}
- command: `clubgate reconcile --partner {partner} {' '.join(window)} {file}` (release)
- wall time (process start to report written, ledger read included): **{seconds:.2f} s**; peak resident memory {peak_mb} MB
- {run.stderr.splitlines()[0]}

| status | seeded | reported |
|---|---:|---:|
{rows}

Exactness: {'EXACT' if exact else 'NOT EXACT'}.
"""
open(f"{out}/reconcile.md", "w").write(md)
json.dump({"rows": report["rows"], "ledger_transfers": report["ledger_transfers"], "seconds": seconds,
           "peak_mb": peak_mb, "machine": machine, "expected": expected, "reported": counts, "exact": exact},
          open(f"{out}/reconcile.json", "w"), indent=2)
print(md)
sys.exit(0 if exact else 1)
PY
