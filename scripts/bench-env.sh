# Sourced by the benchmark scripts: the services' environment, the gateway's configuration,
# the report folder, PostgreSQL's tools, and release binaries built.
source .data/services.env
export CLUBGATE_CONFIG="${CLUBGATE_CONFIG:-gateway/config/development.toml}"
[ -n "${MEMBER_DATA_KEY:-}" ] || export MEMBER_DATA_KEY_FILE="${MEMBER_DATA_KEY_FILE:-keys/dev/member-data.jwk}"
OUT=target/bench
mkdir -p "$OUT"
PGBIN="$(scripts/dev-services.sh bindir)"
log() { printf '==> %s\n' "$*" >&2; }

log "building release binaries"
cargo build --release --locked -p gateway -p loadtest >&2
