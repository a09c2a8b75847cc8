#!/usr/bin/env bash
# Installs the OCPP test peer: the npm package ocpp-rpc (OCPP-J 1.6 and
# 2.0.1 client with strict schema checking), used as charge-point
# simulators, into "$TBGW_CACHE/npm/ocpp". Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${TBGW_CACHE:-$repo/.cache}"
dir="$cache/npm/ocpp"

. "$repo/scripts/peers/lib.sh"
need_apt nodejs:node npm:npm

pkg=ocpp-rpc@2.2.1
[ -f "$dir/node_modules/ocpp-rpc/package.json" ] && exit 0

mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"tbgw-ocpp-peer","private":true}' >package.json
npm install --no-audit --no-fund --loglevel=error "$pkg"
