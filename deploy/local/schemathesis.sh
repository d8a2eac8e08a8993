#!/usr/bin/env bash
# Tests the running system against its own OpenAPI document with schemathesis: builds the debug
# binaries, starts cache, analytics, aggregator and gateway on loopback ports with a fresh
# database and Redis namespace, signs a user in, and runs every check on every operation with a
# bounded number of examples. Exits non-zero on any server error or contradiction of the
# document. Everything it started or created is stopped and dropped on exit.
#
# Knobs: SCHEMATHESIS_MAX_EXAMPLES (20), SCHEMATHESIS_TIME_LIMIT (seconds, 900),
# SCHEMATHESIS_ARGS (extra arguments, e.g. "--seed 1").
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-20}"
TIME_LIMIT="${SCHEMATHESIS_TIME_LIMIT:-900}"

ensure_toolchain
ensure_postgres
ensure_redis

VENV="$CARGO_TARGET_DIR/schemathesis-venv"
if [ ! -x "$VENV/bin/schemathesis" ] ||
  [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  command -v python3 >/dev/null || apt_install python3
  # `venv` without `ensurepip` (Debian without python3-venv) makes a venv with no pip.
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || { apt_install python3-venv && rm -rf "$VENV" && python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

log "building the debug binaries"
cargo build --locked --bins
BIN="$CARGO_TARGET_DIR/debug"

# The token must outlive the run, and the fuzzer must reach the handlers rather than the limiter.
export ACCESS_TOKEN_TTL_SECS=86400 RATE_LIMIT_PER_MINUTE=1000000
start_stack "$BIN"
WORK_DIR="$STACK_DIR"
SUFFIX="$(date +%s)_$$_$RANDOM"

log "signing a test user in"
EMAIL="schemathesis-$SUFFIX@example.com"
PASSWORD="schemathesis-$RANDOM-$RANDOM-password"
curl -fsS -X POST "$GATEWAY/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"username\":\"schemathesis\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >/dev/null
TOKEN="$(curl -fsS -X POST "$GATEWAY/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" |
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

# DELETE /api/v1/me (operation `erase`) would erase the test user and turn every later request
# into a 401, so it is the one operation left out.
log "schemathesis run: $MAX_EXAMPLES examples per operation, at most ${TIME_LIMIT}s"
# Run from the scratch directory: hypothesis keeps a `.hypothesis/` where it runs.
CONFIG="$PWD/deploy/local/schemathesis.toml"
cd "$WORK_DIR"
# shellcheck disable=SC2086
timeout --signal=INT "$TIME_LIMIT" "$VENV/bin/schemathesis" \
  --config-file "$CONFIG" \
  run "$GATEWAY/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --exclude-operation-id erase \
  --max-examples "$MAX_EXAMPLES" \
  --workers 2 \
  --no-color \
  ${SCHEMATHESIS_ARGS:-}
