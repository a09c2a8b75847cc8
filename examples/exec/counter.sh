#!/usr/bin/env bash
# A tbgw exec connector program in bash (protocol version 1, see
# docs/connectors/exec.md). It reports one device, "Shell Counter", with
# a counter that grows by "step" every "periodMs" milliseconds. The shared
# attribute "step" changes the step; the RPC "reset" sets the counter to
# its params (a number) and answers {"counter": N}; any other RPC is
# answered with an error.
#
# Configuration (the connector file's "config" object):
#   {"periodMs": 1000, "step": 1}
set -u

device="Shell Counter"
count=0
step=1
period_ms=1000

# field NAME LINE: the value of a top-level number or string field.
field() {
	local v
	v=$(printf '%s' "$2" | sed -n 's/.*"'"$1"'":[[:space:]]*\("\([^"]*\)"\|\(-\{0,1\}[0-9.]*\)\).*/\2\3/p')
	printf '%s' "$v"
}

read -r hello || exit 0
[ "$(field protocol "$hello")" = 1 ] || { echo "unsupported protocol: $hello" >&2; exit 2; }
p=$(field periodMs "$hello"); [ -n "$p" ] && period_ms=$p
s=$(field step "$hello"); [ -n "$s" ] && step=$s

echo '{"type":"connect","device":"'"$device"'","deviceType":"counter","seq":0}'
echo '{"type":"log","level":"info","msg":"counter started, period '"$period_ms"' ms"}'

timeout=$(awk -v ms="$period_ms" 'BEGIN { printf "%.3f", ms / 1000 }')
seq=1
while :; do
	read -r -t "$timeout" line
	rc=$?
	if [ $rc -eq 0 ]; then
		case "$line" in
		*'"type":"stop"'*) exit 0 ;;
		*'"type":"attributes"'*)
			s=$(field step "$line")
			[ -n "$s" ] && step=$s
			echo '{"type":"attributes","device":"'"$device"'","values":{"step":'"$step"'}}'
			;;
		*'"type":"rpc"'*)
			id=$(field id "$line")
			case "$line" in
			*'"method":"reset"'*)
				count=$(field params "$line"); [ -n "$count" ] || count=0
				echo '{"type":"rpcReply","id":'"$id"',"result":{"counter":'"$count"'}}'
				;;
			*) echo '{"type":"rpcReply","id":'"$id"',"error":"unknown method"}' ;;
			esac
			;;
		esac
		continue
	fi
	[ $rc -gt 128 ] || exit 0 # stdin closed
	count=$((count + step))
	echo '{"type":"telemetry","device":"'"$device"'","values":{"counter":'"$count"'},"seq":'"$seq"'}'
	seq=$((seq + 1))
done
