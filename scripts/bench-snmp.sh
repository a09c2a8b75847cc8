#!/usr/bin/env bash
# SNMP connector load figure: 500 devices x 20 OIDs every 10 s against one
# local snmpd (net-snmp), counting sink; prints polls, CPU % and RSS from
# /proc. Usage: scripts/bench-snmp.sh [seconds] (default 60).
# TBGW_SNMP_LOAD_SEPARATE=1 sends one request per OID (upstream's way),
# TBGW_SNMP_LOAD_WORKERS=n overrides the worker pool size.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/peers/snmp.sh"
export TBGW_SNMP_LOAD_SECONDS="${1:-60}"
go test -run '^$' -bench '^BenchmarkLoad$' -benchtime=1x -count=1 -timeout 15m ./drivers/snmp | grep -E 'load:|^(--- |ok|FAIL)'
go test -run '^$' -bench 'BenchmarkPoll' -benchtime=2s -count=1 ./drivers/snmp | grep -E '^(Benchmark|ok|FAIL)'
