#!/usr/bin/env bash
# Fetches the API reference page's renderer (GET /docs) from the npm registry: Redoc's standalone
# bundle at the pinned version, with its licences, into this folder; then checks the bundle is
# the one reviewed. To move to another version: change VERSION and REDOC_VERSION in
# gateway/src/routes/docs.rs, run this with the new SHA256 left empty, check /docs in a browser
# (deploy/local/docs-test.sh) and write the printed checksum here.
set -euo pipefail
VERSION=2.5.4
SHA256=dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b
cd "$(dirname "$0")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "redoc@$VERSION" >/dev/null && tar xzf "redoc-$VERSION.tgz")
cp "$work/package/bundles/redoc.standalone.js" "$work/package/bundles/redoc.standalone.js.LICENSE.txt" .
cp "$work/package/LICENSE" LICENSE
sha256sum redoc.standalone.js
[ -z "$SHA256" ] || echo "$SHA256  redoc.standalone.js" | sha256sum -c -
