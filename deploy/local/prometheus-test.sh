#!/usr/bin/env bash
# Runs Debian's Prometheus with the shipped scrape config and alerting rules against a live stack:
# builds the debug binaries, starts a throwaway stack (start_stack in services.sh), writes
# prometheus-local.yml with that stack's ports and a 1 s scrape interval, checks it and
# alerts.yml with promtool, starts prometheus on a spare port with a scratch storage directory,
# drives some traffic (register, sign in, track, read), then deploy/local/prometheus-check.py
# waits, with a deadline, until every target is up, every alerting rule is loaded and every query
# of the Grafana dashboard returns data, and checks no label carries the user's e-mail, id, token
# or app name. Installs prometheus from Debian when it is missing. Everything stops on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

OBSERVABILITY=deploy/observability

ensure_toolchain
ensure_postgres
ensure_redis
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  apt_install --no-install-recommends prometheus
fi
command -v python3 >/dev/null || apt_install python3

log "building the debug binaries"
cargo build --locked --bins
BIN="$CARGO_TARGET_DIR/debug"

# Every request counts as slow, so the dashboard's slow-request panel has data too.
export PERFORMANCE_THRESHOLD_MS=0
start_stack "$BIN"
PROMETHEUS_ADDR="127.0.0.1:$STACK_SPARE_PORT"

# The shipped local config with this stack's addresses in place of run.sh's, and a short interval.
PROM_DIR="$STACK_DIR/prometheus"
mkdir -p "$PROM_DIR/data"
cp "$OBSERVABILITY/alerts.yml" "$PROM_DIR/alerts.yml"
sed -e "s/127\.0\.0\.1:8080/$GATEWAY_ADDR/" \
  -e "s/127\.0\.0\.1:9461/$ANALYTICS_METRICS_ADDR/" \
  -e "s/127\.0\.0\.1:9462/$CACHE_METRICS_ADDR/" \
  -e "s/127\.0\.0\.1:9463/$AGGREGATOR_METRICS_ADDR/" \
  -e "s/^\(  [a-z_]*_interval:\) .*/\1 1s/" \
  "$OBSERVABILITY/prometheus-local.yml" >"$PROM_DIR/prometheus.yml"
for addr in "$GATEWAY_ADDR" "$ANALYTICS_METRICS_ADDR" "$CACHE_METRICS_ADDR" "$AGGREGATOR_METRICS_ADDR"; do
  grep -q "\"$addr\"" "$PROM_DIR/prometheus.yml" ||
    die "prometheus-local.yml no longer names run.sh's ports; $addr is not in the generated config"
done

log "promtool check config and rules"
promtool check config "$PROM_DIR/prometheus.yml"
promtool check rules "$OBSERVABILITY/alerts.yml"

log "prometheus on http://$PROMETHEUS_ADDR"
prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
  --web.listen-address="$PROMETHEUS_ADDR" --log.level=warn >"$STACK_DIR/prometheus.log" 2>&1 &
STACK_PIDS+=("$!")

# A user who tracks and reads; the names are distinctive so that the privacy check means something.
EMAIL="prometheus-test-$RANDOM@example.com"
PASSWORD="correct horse battery $RANDOM"
APP_NAME="PrometheusTestReader"
api() { # method path [json-body] [token]
  local args=(-fsS -X "$1" "$GATEWAY$2" -H 'content-type: application/json')
  [ -z "${3:-}" ] || args+=(-d "$3")
  [ -z "${4:-}" ] || args+=(-H "authorization: Bearer $4")
  curl "${args[@]}"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
USER_ID="$(api POST /api/v1/auth/register \
  "{\"username\":\"Ada\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"timezone\":\"Europe/London\"}" |
  json_field user_id)"
TOKEN="$(api POST /api/v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" |
  json_field access_token)"

# Reads and writes go on while Prometheus scrapes, so that every rate has samples to work on.
(
  set +e  # a refused request must not end the traffic
  while true; do
    api POST /api/v1/analytics/track/screen-time "{\"app_name\":\"$APP_NAME\",\"duration_minutes\":1}" "$TOKEN"
    for view in quick-stats dashboard summary/weekly; do
      api GET "/api/v1/analytics/$view" "" "$TOKEN"
    done
    sleep 0.3
  done
) >/dev/null 2>&1 &
STACK_PIDS+=("$!")

log "waiting for the targets, the rules and the dashboard's queries"
python3 deploy/local/prometheus-check.py "http://$PROMETHEUS_ADDR" \
  "$OBSERVABILITY/grafana-dashboard.json" "$OBSERVABILITY/alerts.yml" 4 \
  "$EMAIL" "$TOKEN" "$APP_NAME" "$USER_ID"
