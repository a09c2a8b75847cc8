#!/usr/bin/env bash
# Installs what the exec connector's tests run: bash (the shell example)
# and Debian's python3 (the Python example and the upstream extension
# host). Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_apt bash:bash python3:/usr/bin/python3
