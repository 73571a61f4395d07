#!/usr/bin/env bash
# Paired A/B runs of two gateway builds against the development database, alternated to cancel
# the machine's drift (docs/BENCHMARKS.md):
#
#   scripts/bench-ab.sh NAME_A GATEWAY_A LOADTEST_A NAME_B GATEWAY_B LOADTEST_B "MIXES" ROUNDS
#
# e.g. scripts/bench-ab.sh old /tmp/cg-old /tmp/lt-old new target/release/clubgate \
#        target/release/loadtest "whoami read redeem" 2
# Each build serves on 127.0.0.1:8543 in turn with its own load generator; SECS (10) and
# CLIENTS (32) per run; CFG_A / CFG_B give a build its own configuration file. Prints one line
# per run: requests/s, p50 and p99 (ms), CPU µs per request per process. Never run a build older
# than the database's migrations: it would write what it knows and skip the rest.
set -uo pipefail
cd "$(dirname "$0")/.."
source .data/services.env
export CLUBGATE_CONFIG=gateway/config/development.toml MEMBER_DATA_KEY_FILE=keys/dev/member-data.jwk
PG=$(head -1 .data/pg/postmaster.pid); RD=$(cat .data/redis/redis.pid)
declare -A CFG=([$1]=${CFG_A:-} [$4]=${CFG_B:-}) GWS=([$1]=$2 [$4]=$5) LTS=([$1]=$3 [$4]=$6)
for round in $(seq 1 ${8:-2}); do
  for which in $1 $4; do
    CLUBGATE_CONFIG=${CFG[$which]:-gateway/config/development.toml} GATEWAY__SERVER__LISTEN=127.0.0.1:8543 GATEWAY__LOG__FILTER=warn ${GWS[$which]} serve >/tmp/ab-gw.log 2>&1 &
    GW=$!
    for _ in $(seq 1 100); do curl -sf --cacert .data/tls/ca.pem https://127.0.0.1:8543/ready >/dev/null && break; sleep 0.2; done
    for mix in $7; do
      ${LTS[$which]} --url https://127.0.0.1:8543 --duration-secs ${SECS:-10} --clients ${CLIENTS:-32} --mix $mix --no-check \
        --out /tmp/ab --label "$which-$mix-$round" --watch-cpu "gateway=$GW,postgres=$PG,redis=$RD" 2>/dev/null \
        | grep -E "\*\*all\*\*|CPU per" | tr '\n' ' ' | sed -E "s/^/$which $mix $round: /; s/CPU per request, µs \(from \/proc, over the timed window\)://; s/\| \*\*all\*\* \| [0-9]+ \| ([0-9]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| [0-9.]+ \|/rate \1 p50 \2 p99 \5/"; echo
    done
    kill $GW; wait $GW 2>/dev/null
  done
done
