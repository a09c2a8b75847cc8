#!/usr/bin/env bash
# Installs the serial connector's test peer: socat (pseudo-terminal pairs
# that stand in for a serial device, unplugged by stopping socat).
# Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_apt socat:socat
