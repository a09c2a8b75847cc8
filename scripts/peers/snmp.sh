#!/usr/bin/env bash
# Installs the SNMP peers used by the drivers/snmp tests and load test:
# net-snmp's agent (snmpd) and its command-line tools (snmpget, snmpset,
# snmpwalk, snmptrap, snmpinform).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# snmpd lives in /usr/sbin, which is not on every PATH.
if [ -x /usr/sbin/snmpd ] && command -v snmpinform >/dev/null 2>&1; then
	exit 0
fi
need_apt snmpd snmp:snmpinform
