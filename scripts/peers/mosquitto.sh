#!/usr/bin/env bash
# Installs the MQTT peers used by the MQTT connector tests and benchmarks:
# the mosquitto broker (MQTT 3.1, 3.1.1 and 5) and its command-line clients.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# mosquitto lives in /usr/sbin, which is not on every PATH.
if [ -x /usr/sbin/mosquitto ] && command -v mosquitto_pub >/dev/null 2>&1; then
	exit 0
fi
need_apt mosquitto mosquitto-clients:mosquitto_pub
