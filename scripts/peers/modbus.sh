#!/usr/bin/env bash
# Installs the Modbus test peers: pymodbus (Debian's python3-pymodbus, run
# with /usr/bin/python3), libmodbus (a small C slave is compiled from
# drivers/modbus/testdata/lmbslave.c into "$TBGW_CACHE/modbus/lmbslave"),
# mbpoll and socat (virtual serial port pairs). Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${TBGW_CACHE:-$repo/.cache}"

. "$repo/scripts/peers/lib.sh"
need_apt python3-pymodbus python3-serial python3-serial-asyncio libmodbus-dev mbpoll socat gcc pkg-config libc6-dev

src="$repo/drivers/modbus/testdata/lmbslave.c"
bin="$cache/modbus/lmbslave"
if [ -f "$src" ] && { [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; }; then
	mkdir -p "$cache/modbus"
	# shellcheck disable=SC2046
	gcc -O2 -Wall -o "$bin.tmp" "$src" $(pkg-config --cflags --libs libmodbus)
	mv "$bin.tmp" "$bin"
fi
