#!/usr/bin/env bash
# Installs the network peers used by the drivers/rest, drivers/request and
# drivers/socket tests: curl and Python's http.client as HTTP clients,
# socat and netcat (OpenBSD) as TCP/UDP devices.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt curl:curl socat:socat netcat-openbsd:nc python3:python3
