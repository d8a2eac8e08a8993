#!/usr/bin/env bash
# Tests the API reference page (GET /docs) in a browser: builds the debug binaries, starts a
# throwaway stack (start_stack in services.sh), opens the gateway's /docs in headless Chromium
# and checks that the rendered page lists every operation of the served OpenAPI document (its
# path and its summary) and that no script failed. The page loads its renderer from the gateway
# alone, so this passes offline. Installs Chromium from Debian when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

ensure_toolchain
ensure_postgres
ensure_redis
command -v chromium >/dev/null || apt_install chromium

log "building the debug binaries"
cargo build --locked --bins
BIN="$CARGO_TARGET_DIR/debug"
start_stack "$BIN"

log "$GATEWAY/docs in headless Chromium"
curl -fsS "$GATEWAY/openapi.json" >"$STACK_DIR/openapi.json"
# The virtual time budget lets the page fetch the document and render before the DOM is dumped.
chromium --headless --disable-gpu --no-sandbox --user-data-dir="$STACK_DIR/chromium" \
  --enable-logging=stderr --v=0 --dump-dom --virtual-time-budget=15000 \
  "$GATEWAY/docs" >"$STACK_DIR/docs.html" 2>"$STACK_DIR/chromium.log"
python3 - "$STACK_DIR/openapi.json" "$STACK_DIR/docs.html" "$STACK_DIR/chromium.log" <<'PY'
import html, json, sys

document = json.load(open(sys.argv[1]))
page = html.unescape(open(sys.argv[2]).read())
console = open(sys.argv[3]).read()
operations = [
    (method.upper(), path, operation["summary"])
    for path, item in document["paths"].items()
    for method, operation in item.items()
    if method in ("get", "post", "put", "patch", "delete")
]
# A few named ones, so that an empty document cannot pass.
for path in ("/api/v1/analytics/summary/daily", "/api/v1/analytics/track/batch", "/api/v1/auth/login"):
    assert any(p == path for _, p, _ in operations), f"{path} is not in the document"
missing = [f"{m} {p} ({s})" for m, p, s in operations if p not in page or s not in page]
assert not missing, f"not on the rendered page: {missing}"
failures = [line for line in console.splitlines() if "Uncaught" in line]
assert not failures, f"script errors: {failures}"
print(f"/docs lists all {len(operations)} operations of the document")
PY
