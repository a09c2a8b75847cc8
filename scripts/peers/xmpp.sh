#!/usr/bin/env bash
# Installs the XMPP test peers: the prosody server (run by the tests as
# the prosody user, with their own configuration in a temporary
# directory) and python3-slixmpp, the independent client acting as the
# device.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt prosody:prosody python3-slixmpp
