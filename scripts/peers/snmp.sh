#!/usr/bin/env bash
# Installs the SNMP peers used by drivers/snmp tests: net-snmp's agent
# (snmpd) and command-line tools (snmpget, snmpset, snmptrap, snmpinform).
set -euo pipefail

missing=()
[ -x /usr/sbin/snmpd ] || missing+=(snmpd)
for tool in snmpget snmpset snmptrap snmpinform; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		missing+=(snmp)
		break
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
	"${sudo[@]}" apt-get update
	"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
