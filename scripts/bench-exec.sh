#!/usr/bin/env bash
# exec connector figures: lines/s from a program writing as fast as it can
# (into the connector alone, then through the whole in-process gateway to
# the ThingsBoard stand-in), and the RSS of the built gateway running 10
# exec connectors (each the bash example, one line a second) against a
# local mosquitto. Usage: scripts/bench-exec.sh [seconds] (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers/exec.sh
secs=${1:-20}
go test -run '^$' -bench '^BenchmarkFlood$' -benchtime 200000x -count=1 ./drivers/exec | grep -E '^(Benchmark|ok|FAIL)'
go test -run '^$' -bench '^BenchmarkE2EExecFlood$' -benchtime 100000x -count=1 . | grep -E '^(Benchmark|ok|FAIL)'

work=$(mktemp -d)
trap 'kill $gw $mq 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/tbgw" .
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
mq=$!
conns=""
for i in $(seq 1 10); do
	printf '{"command":["bash","%s/examples/exec/counter.sh"],"config":{"periodMs":1000}}\n' "$PWD" >"$work/exec$i.json"
	conns="$conns{\"type\":\"exec\",\"name\":\"Exec $i\",\"configuration\":\"exec$i.json\"},"
done
cat >"$work/tb_gateway.json" <<JSON
{"thingsboard":{"host":"127.0.0.1","port":$port,"security":{"type":"accessToken","accessToken":"bench"}},
 "storage":{"type":"memory","max_records_count":100000},
 "connectors":[${conns%,}]}
JSON
"$work/tbgw" -c "$work" -data "$work" 2>"$work/gw.log" &
gw=$!
sleep "$secs"
rss=$(awk '/VmRSS/ {print $2}' /proc/$gw/status)
kids=$(pgrep -P $gw | wc -l)
echo "gateway RSS with 10 exec connectors after ${secs}s: ${rss} kB ($kids programs running)"
