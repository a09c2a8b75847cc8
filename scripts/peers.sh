#!/usr/bin/env bash
# Installs the protocol peers the tests use (idempotent): every
# scripts/peers/*.sh in turn, plus qemu-user-static for the foreign-arch
# smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
export TBGW_CACHE=${TBGW_CACHE:-$PWD/.cache}
mkdir -p "$TBGW_CACHE"
. scripts/peers/lib.sh
need_apt qemu-user-static:qemu-aarch64-static
for s in scripts/peers/*.sh; do
  [ "$(basename "$s")" = lib.sh ] && continue
  echo "== peers: $s"
  bash "$s"
done
