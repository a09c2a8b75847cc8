#!/usr/bin/env bash
# Polling figure of the Modbus connector: 100 slaves x 100 registers every
# second over TCP against the libmodbus test slave, for TBGW_BENCH_SECONDS
# (default 20). Prints requests per cycle, datapoints/s, CPU % and RSS of
# the polling process, then the per-poll micro-benchmark.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/peers/modbus.sh
TBGW_BENCH_MODBUS=1 go test -count=1 -run '^$' -bench '^BenchmarkPollingFigure$' -benchtime=1x ./drivers/modbus | grep -E 'bench_test|^(ok|FAIL|---)'
go test -count=1 -run '^$' -bench 'BenchmarkPollCycle' -benchtime 5000x ./drivers/modbus | grep -E '^(Benchmark|ok|FAIL)'
go test -count=1 -run '^$' -bench 'BenchmarkDecodeFloat64' ./codec/binary | grep -E '^(Benchmark|ok|FAIL)'
