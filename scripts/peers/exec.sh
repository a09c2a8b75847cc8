#!/usr/bin/env bash
# Installs what the exec connector's tests run: bash (the shell example),
# Debian's python3 (the Python example and the upstream extension host),
# pyserial (python3-serial: the serial line-protocol connector example in
# upstream's interface) and socat (its device, a pty pair). Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_apt bash:bash python3:/usr/bin/python3 python3-serial socat:socat
