#!/usr/bin/env bash
# Checks the service files: systemd-analyze verify and the offline
# security score of the unit (when systemd-analyze is there), and the
# BusyBox init script under busybox's sh and start-stop-daemon (start,
# status, restart, stop) against a built tbgw and the shipped
# configuration, in a temporary root for its paths.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'sh "$tmp/S95" stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
command -v busybox >/dev/null || { echo "busybox missing (apt-get install busybox)"; exit 1; }

if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$root/etc/systemd/tbgw.service" 2>&1 | grep -v 'is not executable' || true
	systemd-analyze security --offline=true "$root/etc/systemd/tbgw.service" 2>/dev/null | tail -1 || true
fi

mkdir -p "$tmp/bin" "$tmp/run" "$tmp/data"
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/bin/tbgw" .)
for a in start-stop-daemon logger mkfifo; do ln -s "$(command -v busybox)" "$tmp/bin/$a"; done
sed -e "s#^DAEMON=.*#DAEMON=$tmp/bin/tbgw#" -e "s#^RUNDIR=.*#RUNDIR=$tmp/run#" \
	-e "s#^USER=.*#USER=$(id -un)#" -e "s#^TB_GW_CONFIG_DIR=.*#TB_GW_CONFIG_DIR=$root/etc/tbgw#" \
	-e "s#^TB_GW_DATA_DIR=.*#TB_GW_DATA_DIR=$tmp/data#" -e "s#/etc/default/tbgw#$tmp/default#g" \
	"$root/etc/init.d/S95tbgw" >"$tmp/S95"
echo 'TBGW_OPTS="-log-format json"' >"$tmp/default"
busybox sh -n "$tmp/S95"
export PATH="$tmp/bin:$PATH"
S() { busybox sh "$tmp/S95" "$@"; }
S start
S status
old=$(cat "$tmp/run/tbgw.pid")
S restart
new=$(cat "$tmp/run/tbgw.pid")
[ "$old" != "$new" ] || { echo "FAIL: restart kept pid $old"; exit 1; }
! kill -0 "$old" 2>/dev/null || { echo "FAIL: old gateway $old still running after restart"; exit 1; }
S status
S stop
if S status; then echo "FAIL: running after stop"; exit 1; fi
[ "$(stat -c %a "$tmp/data")" = 700 ] || { echo "FAIL: data dir not 0700"; exit 1; }
echo "service check OK"
