#!/usr/bin/env bash
# Runs the whole stack on this machine: installs and starts PostgreSQL and Redis if needed,
# creates the database, builds release binaries, starts cache, analytics, aggregator and gateway,
# waits until they are healthy and prints how to try it. Ctrl-C stops everything cleanly.
#
# Knobs: GATEWAY_ADDR (127.0.0.1:8080), DATABASE_NAME (wellbeing), LOG_FORMAT, RUST_LOG,
# JWT_SECRET (kept in .run/jwt-secret when unset, so tokens survive restarts),
# INTERNAL_TLS (on): the services talk mutual TLS with the development certificates kept in
# .run/certs (issued on first run by wellbeing-dev-certs); `off` only to measure without it.
# ANALYTICS_REPLICAS (1) and AGGREGATOR_REPLICAS (1): how many of each to start; the gateway
# balances over every analytics replica (the workers call no service, only PostgreSQL).
# GATEWAY_ENV and ANALYTICS_ENV: space-separated VAR=value settings for that service alone (both
# read VIEW_CACHE*, for instance: ANALYTICS_ENV="VIEW_CACHE_MAX_MB=0" measures without analytics'
# copies while the gateway keeps its own).
#
# Ports: gateway $GATEWAY_ADDR; cache 50052; analytics 50051, then 50101, 50102, ...; aggregator
# 50053, then 50201, ...; Prometheus metrics of the gRPC services: analytics 9461 (then 9501, ...),
# cache 9462, aggregator 9463 (then 9601, ...).
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
cargo build --release --locked -p wellbeing-cache -p wellbeing-analytics -p wellbeing-aggregator \
  -p wellbeing-gateway -p wellbeing-dev-certs
BIN="$CARGO_TARGET_DIR/release"

RUN_DIR=.run
mkdir -p "$RUN_DIR/logs"
CERTS="$PWD/$RUN_DIR/certs"
"$BIN/wellbeing-dev-certs" "$CERTS"
mapfile -t CACHE_TLS < <(tls_settings cache "$CERTS")
mapfile -t ANALYTICS_TLS < <(tls_settings analytics "$CERTS")
mapfile -t AGGREGATOR_TLS < <(tls_settings aggregator "$CERTS")
mapfile -t GATEWAY_TLS < <(tls_settings gateway "$CERTS")
if [ -z "${JWT_SECRET:-}" ]; then
  [ -s "$RUN_DIR/jwt-secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n' >"$RUN_DIR/jwt-secret"
  JWT_SECRET=$(cat "$RUN_DIR/jwt-secret")
fi

export DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/$DATABASE_NAME"
export REDIS_URL="${REDIS_URL-redis://$REDIS_HOST:$REDIS_PORT}"
ANALYTICS_REPLICAS="${ANALYTICS_REPLICAS:-1}"
AGGREGATOR_REPLICAS="${AGGREGATOR_REPLICAS:-1}"
[[ "$ANALYTICS_REPLICAS" =~ ^[1-9][0-9]?$ ]] || die "ANALYTICS_REPLICAS must be 1 to 99"
[[ "$AGGREGATOR_REPLICAS" =~ ^[1-9][0-9]?$ ]] || die "AGGREGATOR_REPLICAS must be 1 to 99"
analytics_port() { if [ "$1" -eq 0 ]; then echo 50051; else echo $((50100 + $1)); fi; }
analytics_metrics_port() { if [ "$1" -eq 0 ]; then echo 9461; else echo $((9500 + $1)); fi; }
aggregator_port() { if [ "$1" -eq 0 ]; then echo 50053; else echo $((50200 + $1)); fi; }
aggregator_metrics_port() { if [ "$1" -eq 0 ]; then echo 9463; else echo $((9600 + $1)); fi; }
ANALYTICS_URL=$(for ((i = 0; i < ANALYTICS_REPLICAS; i++)); do echo "127.0.0.1:$(analytics_port $i)"; done | paste -sd,)
AGGREGATOR_URL=$(for ((i = 0; i < AGGREGATOR_REPLICAS; i++)); do echo "127.0.0.1:$(aggregator_port $i)"; done | paste -sd,)
export CACHE_ADDR=127.0.0.1:50052
export ANALYTICS_URL CACHE_URL=$CACHE_ADDR AGGREGATOR_URL
export GATEWAY_ADDR="${GATEWAY_ADDR:-127.0.0.1:8080}"
export JWT_SECRET

log "applying database migrations"
# The migration serves nothing, so it needs no certificate.
INTERNAL_TLS=off "$BIN/wellbeing-analytics" migrate

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

start() { # binary log-name [VAR=value ...]
  local name=$1 log_name=$2
  shift 2
  env "$@" "$BIN/$name" >>"$RUN_DIR/logs/$log_name.log" 2>&1 &
  PIDS+=("$!")
  log "started $log_name (pid $!, log $RUN_DIR/logs/$log_name.log)"
}
read -ra GATEWAY_SETTINGS <<<"${GATEWAY_ENV:-}"
read -ra ANALYTICS_SETTINGS <<<"${ANALYTICS_ENV:-}"
start wellbeing-cache cache METRICS_ADDR=127.0.0.1:9462 "${CACHE_TLS[@]}"
for ((i = 0; i < ANALYTICS_REPLICAS; i++)); do
  start wellbeing-analytics "analytics-$i" "ANALYTICS_ADDR=127.0.0.1:$(analytics_port $i)" \
    "METRICS_ADDR=127.0.0.1:$(analytics_metrics_port $i)" "${ANALYTICS_TLS[@]}" \
    ${ANALYTICS_SETTINGS[@]+"${ANALYTICS_SETTINGS[@]}"}
done
for ((i = 0; i < AGGREGATOR_REPLICAS; i++)); do
  start wellbeing-aggregator "aggregator-$i" "AGGREGATOR_ADDR=127.0.0.1:$(aggregator_port $i)" \
    "METRICS_ADDR=127.0.0.1:$(aggregator_metrics_port $i)" "${AGGREGATOR_TLS[@]}"
done
start wellbeing-gateway gateway "${GATEWAY_TLS[@]}" ${GATEWAY_SETTINGS[@]+"${GATEWAY_SETTINGS[@]}"}

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
$ANALYTICS_REPLICAS analytics replica(s), $AGGREGATOR_REPLICAS aggregator worker(s); mutual TLS between them:
${INTERNAL_TLS:-on} (certificates in $RUN_DIR/certs); metrics of the gRPC
services: curl -s http://127.0.0.1:9461/metrics (analytics), 9462 (cache), 9463 (aggregator)

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
