#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit tests and the end-to-end tests against the
# real PostgreSQL and Redis (installed and started first if needed), schemathesis, the
# TypeScript SDK's tests, the API reference page in a browser and Prometheus (the shipped scrape
# config, alerting rules and dashboard), against live stacks.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

ensure_toolchain
ensure_postgres
ensure_redis

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked
deploy/local/validate-k8s.sh
log "schemathesis against a live stack"
deploy/local/schemathesis.sh
log "the TypeScript SDK against a live stack"
deploy/local/sdk-test.sh
log "Prometheus with the shipped scrape config, rules and dashboard against a live stack"
deploy/local/prometheus-test.sh
log "the API reference page (/docs) in a browser"
deploy/local/docs-test.sh
