#!/usr/bin/env bash
# Installs the KNX test peer: knxd (KNXnet/IP tunnelling and routing
# server) and knxd-tools (knxtool, the independent sender and bus
# monitor). The tests run them inside a network namespace they create,
# which needs root and unshare (util-linux) and ip (iproute2).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt knxd:knxd knxd-tools:knxtool util-linux:unshare iproute2:ip
# The tests start their own instance; a packaged service (started by the
# package on machines with systemd) must not hold ports or multicast.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now knxd.service knxd.socket >/dev/null 2>&1 || true
fi
