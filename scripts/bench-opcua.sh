#!/usr/bin/env bash
# OPC-UA connector figures: 10 000 monitored items on a node-opcua server,
# each changing once a second, streamed to a counting sink. Prints the
# connector's CPU (% of one core), RSS and source-timestamp-to-Send latency.
#   scripts/bench-opcua.sh [count]     (count: benchmark runs, default 3)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/peers/opcua.sh"
cd "$repo"
TBGW_REQUIRE_PEERS=1 go test -run '^$' -bench 'BenchmarkSubscription10k' -benchtime=1x \
	-count="${1:-3}" ./drivers/opcua/
