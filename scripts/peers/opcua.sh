#!/usr/bin/env bash
# Installs the OPC-UA test peer: node-opcua-server (plus the packages its
# test script needs) into "$TBGW_CACHE/npm/opcua". Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${TBGW_CACHE:-$repo/.cache}"
dir="$cache/npm/opcua"

. "$repo/scripts/peers/lib.sh"
need_apt nodejs:node npm:npm

pkgs=(node-opcua-server@2.186.4 node-opcua-variant@2.186.4 node-opcua-status-code@2.186.1
	node-opcua-data-model@2.186.4 node-opcua-nodeid@2.186.1 node-opcua-certificate-manager@2.186.4)

missing=0
for p in "${pkgs[@]}"; do
	[ -f "$dir/node_modules/${p%@*}/package.json" ] || missing=1
done
[ "$missing" = 1 ] || exit 0

mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"tbgw-opcua-peer","private":true}' >package.json
npm install --no-audit --no-fund --loglevel=error "${pkgs[@]}"
