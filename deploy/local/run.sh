#!/usr/bin/env bash
# Runs the whole stack on this machine: installs and starts PostgreSQL and Redis if needed,
# creates the database, builds release binaries, starts cache, analytics, aggregator and gateway,
# waits until they are healthy and prints how to try it. Ctrl-C stops everything cleanly.
#
# Knobs: GATEWAY_ADDR (127.0.0.1:8080), DATABASE_NAME (wellbeing), LOG_FORMAT, RUST_LOG,
# JWT_SECRET (kept in .run/jwt-secret when unset, so tokens survive restarts).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

ensure_toolchain
ensure_postgres
ensure_redis
DATABASE_NAME="${DATABASE_NAME:-wellbeing}"
ensure_database "$DATABASE_NAME"

log "building release binaries (the first build takes a few minutes)"
cargo build --release --locked -p wellbeing-cache -p wellbeing-analytics -p wellbeing-aggregator -p wellbeing-gateway
BIN="$CARGO_TARGET_DIR/release"

RUN_DIR=.run
mkdir -p "$RUN_DIR/logs"
if [ -z "${JWT_SECRET:-}" ]; then
  [ -s "$RUN_DIR/jwt-secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n' >"$RUN_DIR/jwt-secret"
  JWT_SECRET=$(cat "$RUN_DIR/jwt-secret")
fi

export DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/$DATABASE_NAME"
export REDIS_URL="${REDIS_URL-redis://$REDIS_HOST:$REDIS_PORT}"
export ANALYTICS_ADDR=127.0.0.1:50051 CACHE_ADDR=127.0.0.1:50052 AGGREGATOR_ADDR=127.0.0.1:50053
export ANALYTICS_URL=$ANALYTICS_ADDR CACHE_URL=$CACHE_ADDR AGGREGATOR_URL=$AGGREGATOR_ADDR
export GATEWAY_ADDR="${GATEWAY_ADDR:-127.0.0.1:8080}"
export JWT_SECRET

PIDS=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#PIDS[@]} -gt 0 ]; then
    log "stopping the stack"
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
  fi
  exit 0
}
trap stop_all INT TERM EXIT

start() {
  local name=$1
  "$BIN/$name" >>"$RUN_DIR/logs/$name.log" 2>&1 &
  PIDS+=("$!")
  log "started $name (pid $!, log $RUN_DIR/logs/$name.log)"
}
start wellbeing-cache
start wellbeing-analytics
start wellbeing-aggregator
start wellbeing-gateway

log "waiting for every service to be healthy"
tries=0
until curl -fsS "http://$GATEWAY_ADDR/health" 2>/dev/null | grep -q '"status":"healthy"'; do
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a service exited; see $RUN_DIR/logs/"
  done
  tries=$((tries + 1)); [ "$tries" -lt 600 ] || die "the stack did not become healthy; see $RUN_DIR/logs/"
  sleep 0.1
done

cat <<MSG

wellbeing is running: http://$GATEWAY_ADDR  (logs in $RUN_DIR/logs/, Ctrl-C stops it)

Try it:
  curl -s http://$GATEWAY_ADDR/health
  curl -s -X POST http://$GATEWAY_ADDR/api/v1/auth/register -H 'content-type: application/json' \\
    -d '{"username":"Ada","email":"ada@example.com","password":"correct horse battery","timezone":"Europe/London"}'
  TOKEN=\$(curl -s -X POST http://$GATEWAY_ADDR/api/v1/auth/login -H 'content-type: application/json' \\
    -d '{"email":"ada@example.com","password":"correct horse battery"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s -X POST http://$GATEWAY_ADDR/api/v1/analytics/track/screen-time -H "authorization: Bearer \$TOKEN" \\
    -H 'content-type: application/json' -d '{"app_name":"Reader","duration_minutes":25}'
  curl -s http://$GATEWAY_ADDR/api/v1/analytics/quick-stats -H "authorization: Bearer \$TOKEN"

MSG
wait -n "${PIDS[@]}" || true
log "a service exited; see $RUN_DIR/logs/"
stop_all
