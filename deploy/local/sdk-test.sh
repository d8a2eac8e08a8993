#!/usr/bin/env bash
# Tests the TypeScript SDK (clients/typescript) against a live stack: builds the debug binaries,
# starts a throwaway stack (start_stack in services.sh) whose gateway allows one web origin,
# then runs `npm ci`, `npm run build` and `npm test` (WELLBEING_URL is the stack's gateway; the
# offline-queue test starts and stops a gateway of its own from WELLBEING_GATEWAY_BIN on a spare
# port) and the headless-Chromium test (a page served from that web origin). Installs Node.js and
# Chromium from Debian when they are missing. Last, the demo data command (demo.sh) against the
# same stack, checking the demo account's week shows numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

ensure_toolchain
ensure_postgres
ensure_redis
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "the SDK's tests need Node.js 20 or later"
command -v chromium >/dev/null || apt_install chromium

log "building the debug binaries"
cargo build --locked --bins
BIN="$CARGO_TARGET_DIR/debug"

STACK_BASE_PORT=$((20000 + RANDOM % 12000))  # below the ephemeral range (services.sh)
WEB_PORT=$((STACK_BASE_PORT + 5))
export CORS_ALLOWED_ORIGINS="http://127.0.0.1:$WEB_PORT"
start_stack "$BIN"

cd clients/typescript
log "npm ci && npm run build"
npm ci --no-audit --no-fund --loglevel=error
npm run build
log "SDK tests against $GATEWAY"
# The test's own gateway calls the stack's services as the stack's gateway does: with its
# certificate.
mapfile -t GATEWAY_TLS < <(tls_settings gateway "$STACK_DIR/certs")
export "${GATEWAY_TLS[@]}"
WELLBEING_URL="$GATEWAY" WELLBEING_GATEWAY_BIN="$BIN/wellbeing-gateway" \
  WELLBEING_SPARE_ADDR="127.0.0.1:$STACK_SPARE_PORT" npm test
log "SDK in headless Chromium (page origin http://127.0.0.1:$WEB_PORT)"
WELLBEING_URL="$GATEWAY" WELLBEING_WEB_PORT="$WEB_PORT" npm run test:browser

# The demo data command (README) against the same stack: a demo account whose views show numbers.
cd ../..
log "demo data through the API (deploy/local/demo.sh)"
GATEWAY="$GATEWAY" deploy/local/demo.sh >"$STACK_DIR/demo.out"
read -r DEMO_EMAIL DEMO_PASSWORD < <(sed -n 's/^  email \([^,]*\), password \(.*\)$/\1 \2/p' "$STACK_DIR/demo.out")
DEMO_TOKEN="$(curl -fsS -X POST "$GATEWAY/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$DEMO_EMAIL\",\"password\":\"$DEMO_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
curl -fsS "$GATEWAY/api/v1/analytics/summary/weekly" -H "authorization: Bearer $DEMO_TOKEN" |
  python3 -c 'import json, sys
week = json.load(sys.stdin)["data"]
minutes = [day["total_screen_time_minutes"] for day in week["daily_summaries"]]
assert all(m > 0 for m in minutes[:-1]), minutes
print("demo week, screen minutes per day:", minutes)'
