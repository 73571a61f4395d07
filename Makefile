# clubgate: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PATH := $(HOME)/.cargo/bin:$(PATH)
CONFIG ?= gateway/config/development.toml
SERVICES_ENV := .data/services.env
# Loads DATABASE_URL / REDIS_URL written by `scripts/dev-services.sh up`.
# The development member-data key (keys/dev/) unless MEMBER_DATA_KEY(_FILE) is given.
WITH_SERVICES := source $(SERVICES_ENV) && export CLUBGATE_CONFIG=$(CONFIG) && \
	{ [ -n "$${MEMBER_DATA_KEY:-}" ] || export MEMBER_DATA_KEY_FILE="$${MEMBER_DATA_KEY_FILE:-keys/dev/member-data.jwk}"; } &&

.PHONY: help run test faults backup restore-drill stop services build migrate demo lint check-deps check-schema interop-deps browser-deps clean-data bench bench-reconcile

help:
	@echo "make run     install what is missing, start PostgreSQL + Redis, migrate, load the demo network, serve"
	@echo "make test    the same set-up, then the whole test suite against real PostgreSQL and Redis"
	@echo "make lint    cargo fmt --check, the domain crate's dependencies, clippy -D warnings"
	@echo "make backup  stream the WAL (commits then wait for it) and take a base backup into .data/backups"
	@echo "make restore-drill   restore the latest backup into a scratch cluster and prove it identical to the live ledger"
	@echo "make faults   only the fault tests: gateways killed, PostgreSQL restarted and stopped, Redis lost (make test runs them too)"
	@echo "make check-schema   migrations both ways and schema.rs against diesel print-schema (make test runs it)"
	@echo "make stop    stop the project-local PostgreSQL and Redis"
	@echo "make bench   baseline + load test against a release gateway (after make run has loaded the demo)"
	@echo "make bench-reconcile   a 1,000,000-row partner file reconciled against the ledger"

services:
	@scripts/dev-services.sh up

stop:
	@scripts/dev-services.sh down

# Every target of the workspace, tests included, not only the binaries: dev-dependencies turn on
# more features of shared dependencies (resolver 3 unifies them only when a test target is built),
# and cargo compiles a crate again for each feature set, so `--bins` and `cargo test` each compiled
# many crates of their own. With one feature set, `make run` after `make test` (which runs this
# first) compiles nothing, and `make test` after `make run` compiles nothing either.
build:
	cargo build --workspace --all-targets --locked

migrate: services build
	@$(WITH_SERVICES) target/debug/clubgate migrate

demo: migrate
	@$(WITH_SERVICES) target/debug/clubgate demo load

run: demo
	@echo
	@echo "clubgate is starting on https://127.0.0.1:8443 (development CA: .data/tls/ca.pem)"
	@echo "  pages:    https://127.0.0.1:8443/  (the till: /pos; staff sign-in: /staff/sign-in)"
	@echo "            sign in as sara.hotel (cashier, Azadi Grand Tehran) or reza.kitchen (cashier,"
	@echo "            Saffron Kitchen), password demo-password-1405 (development only)"
	@echo "  try:      target/debug/partner --key keys/dev/hotel.jwk whoami"
	@echo "  health:   curl --cacert .data/tls/ca.pem https://127.0.0.1:8443/ready"
	@echo "  OpenAPI:  curl --cacert .data/tls/ca.pem https://127.0.0.1:8443/openapi.json"
	@echo "  operator: CLUBGATE_CONFIG=$(CONFIG) target/debug/clubgate partners list   (after: source $(SERVICES_ENV))"
	@echo "  stop:     Ctrl-C, then 'make stop' to stop PostgreSQL and Redis"
	@echo
	@$(WITH_SERVICES) exec target/debug/clubgate serve

# The interoperability test drives the gateway with an independent RFC 9421 implementation
# (Python's http-message-signatures), installed into a project-local virtualenv.
interop-deps:
	@scripts/dev-services.sh python

# The page tests drive Debian's headless Chromium through ChromeDriver (WebDriver).
browser-deps:
	@scripts/dev-services.sh browser

# The migrations both ways on a temporary database, and the checked-in schema.rs against
# `diesel print-schema` (installs the diesel CLI once, into ~/.cargo/bin). `--write` regenerates it.
check-schema: services
	@scripts/check-schema.sh

test: services interop-deps browser-deps check-schema build
	@$(WITH_SERVICES) export TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$DATABASE_URL}" \
	  TEST_REDIS_URL="$${TEST_REDIS_URL:-$$REDIS_URL}" INTEROP_PYTHON="$(CURDIR)/.data/venv/bin/python" && \
	  cargo test --workspace --locked

# Backups (scripts/backup.sh, docs/operations.md): base backups plus the WAL streamed
# synchronously, so a restore loses no acknowledged transaction; the drill proves a restore exact.
backup: services build
	@$(WITH_SERVICES) scripts/backup.sh backup

restore-drill: services build
	@$(WITH_SERVICES) scripts/backup.sh drill

# The fault tests alone (tests/faults/): each starts its own PostgreSQL cluster, Redis and gateway
# processes, so it needs only the installed packages, not the shared services.
faults: services build
	@$(WITH_SERVICES) export TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$DATABASE_URL}" \
	  TEST_REDIS_URL="$${TEST_REDIS_URL:-$$REDIS_URL}" && \
	  cargo test -p gateway-tests --test faults --locked -- --nocapture

# The domain crate stays pure: no actix, diesel, redis or tokio-postgres in its tree.
check-deps:
	@scripts/check-deps.sh

lint:
	cargo fmt --all -- --check
	@scripts/check-deps.sh
	cargo clippy --workspace --all-targets --locked -- -D warnings

# Needs the services and the demo network (make run, or make demo); starts its own release gateway.
bench: demo
	@scripts/bench.sh

# Grows one demo partner's ledger to a million transfers (once), then times a reconciliation.
bench-reconcile: demo
	@scripts/bench-reconcile.sh

clean-data: stop
	rm -rf .data
