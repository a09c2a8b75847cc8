#!/usr/bin/env bash
# Installs the XMPP test peers: the prosody server (run by the tests as
# the prosody user, with their own configuration in a temporary
# directory) and python3-slixmpp, the independent client acting as the
# device.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt prosody:prosody python3-slixmpp
# The tests start their own instance; a packaged service (started by the
# package on machines with systemd) must not hold ports or multicast.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now prosody.service >/dev/null 2>&1 || true
fi
