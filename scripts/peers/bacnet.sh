#!/usr/bin/env bash
# Installs the BACnet test peer: @bacnet-js/client (a BACnet/IP stack that
# can act as a device) into "$TBGW_CACHE/npm/bacnet", and iproute2 for the
# tests that build network namespaces. Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${TBGW_CACHE:-$repo/.cache}"
dir="$cache/npm/bacnet"

. "$repo/scripts/peers/lib.sh"
need_apt nodejs:node npm:npm iproute2:ip  # ip: the network namespace tests

pkg=@bacnet-js/client@3.3.2
[ -f "$dir/node_modules/@bacnet-js/client/package.json" ] && exit 0

mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"tbgw-bacnet-peer","private":true}' >package.json
npm install --no-audit --no-fund --loglevel=error "$pkg"
