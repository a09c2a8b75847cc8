#!/usr/bin/env bash
# The size budget: builds tbgw stripped (-s -w, -trimpath, CGO_ENABLED=0)
# with all connectors (the default build: every connector, the SQL
# connector with its default drivers PostgreSQL and MySQL), with all
# connectors and the opt-in SQL drivers too ("full": -tags
# odbc.sqlite,odbc.mssql) and with each connector alone (-tags
# custom,drivers.<type>; odbc with all four pure-Go SQL drivers) and with
# none ("core": -tags custom) for armv7 and mipsle (GOMIPS=softfloat), and
# fails when a binary is larger than its line in
# scripts/packaging/size-budget.txt. Every build has the product tags
# (nethttpomithttp2, scripts/packaging/lib.sh), as the shipped binaries
# do. Run by `make test`.
#   size-check.sh            check
#   size-check.sh -measure   print the sizes as budget lines (no check)
#   size-check.sh -explain   where the bytes go: the sections of the core
#                            and all-connector builds on both architectures
#                            (and their size in a squashfs image when
#                            mksquashfs is installed), and the largest
#                            packages of the all-connector armv7 build
#                            (go tool nm -size)
#   size-check.sh -unique    what each connector alone adds to the
#                            all-connector armv7 build (that build's size
#                            less the size without the one connector)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
budget="$root/scripts/packaging/size-budget.txt"
mode=${1:-check}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
. scripts/packaging/lib.sh
export CGO_ENABLED=0 GOOS=linux

envOf() {
	case $1 in
	armv7) echo GOARCH=arm GOARM=7 ;;
	mipsle) echo GOARCH=mipsle GOMIPS=softfloat ;;
	esac
}

if [ "$mode" = -explain ]; then
	# A stripped binary is its code (.text), the runtime's function tables
	# (.gopclntab: names, line and stack maps of every function, 50-60%
	# of .text), read-only data (.rodata: type descriptors, strings, the
	# functions' GC data) and initialised data. Sizes step by 64 KiB (the
	# segments are page-aligned), so a change smaller than that may not
	# show. MIPS code is larger than ARM code for the same source: the Go
	# assembler does not schedule branch delay slots but puts a NOP in
	# every one (one instruction in seven), and every 32-bit constant or
	# address takes two instructions.
	for arch in armv7 mipsle; do
		for b in core all; do
			tags=""
			[ "$b" = core ] && tags=custom
			env $(envOf $arch) go build -trimpath -ldflags "-s -w" -tags "$(product_tags "$tags")" -o "$tmp/tbgw" .
			line=$(printf '%-7s %-5s %9d bytes' "$arch" "$b" "$(stat -c %s "$tmp/tbgw")")
			if command -v readelf >/dev/null; then
				data=0 line="$line:"
				while read -r name size; do
					case $name in
					.text | .gopclntab | .rodata) line="$line $name $((0x$size))" ;;
					.data | .noptrdata) data=$((data + 0x$size)) ;;
					esac
				done < <(readelf -SW "$tmp/tbgw" | sed -n 's/^ *\[ *[0-9]*\] *\([^ ]*\) *PROGBITS *[0-9a-f]* *[0-9a-f]* *\([0-9a-f]*\) .*/\1 \2/p')
				line="$line data $data"
			fi
			# What the binary takes in a flash image: a squashfs of it alone
			# with xz in 256 KiB blocks, as OpenWrt builds its root file
			# system (with the ARM branch filter on ARM).
			if command -v mksquashfs >/dev/null; then
				mkdir -p "$tmp/sq" && mv "$tmp/tbgw" "$tmp/sq/tbgw"
				bcj=""
				[ "$arch" = armv7 ] && bcj="-Xbcj arm"
				# shellcheck disable=SC2086
				mksquashfs "$tmp/sq" "$tmp/sq.img" -comp xz -b 256K $bcj -noappend -quiet -no-progress >/dev/null
				line="$line; squashfs $(stat -c %s "$tmp/sq.img")"
				rm -rf "$tmp/sq" "$tmp/sq.img"
			fi
			echo "$line"
		done
	done
	echo
	GOARCH=arm GOARM=7 go build -trimpath -tags "$TBGW_PRODUCT_TAGS" -o "$tmp/tbgw" .
	echo "armv7, all connectors, unstripped: $(stat -c %s "$tmp/tbgw") bytes; bytes of code and data symbols by package (top 25; bss excluded):"
	# Symbols larger than the file are zero-filled data the file does not
	# hold (crypto/internal/fips140/drbg.memory, 32 MiB).
	go tool nm -size "$tmp/tbgw" | awk -v max="$(stat -c %s "$tmp/tbgw")" '$3 ~ /^[TtRrDd]$/ && $2 < max {
		name = $4; sub(/\(.*/, "", name)
		# the package: the path up to the last slash, then up to the first dot
		n = split(name, parts, "/"); last = parts[n]; sub(/\..*/, "", last)
		pkg = (n > 1) ? substr(name, 1, length(name) - length(parts[n])) last : last
		size[pkg] += $2 } END { for (p in size) printf "%10d %s\n", size[p], p }' | sort -rn | head -25
	exit 0
fi

connectors=$(sed -n 's#^//go:build !custom || drivers\.\(.*\)$#\1#p' drivers/all/*.go | sort)
declare -A tagsOf=([all]="" [full]="odbc.sqlite,odbc.mssql" [core]="custom")
for c in $connectors; do
	t="custom,drivers.$c"
	[ "$c" = odbc ] && t="$t,odbc.postgres,odbc.mysql,odbc.mssql,odbc.sqlite"
	tagsOf[$c]=$t
done
if [ "$mode" = -unique ]; then
	# -tags custom with every connector and the default SQL drivers is
	# the default build (with the product tags, as shipped).
	every=$(product_tags custom,odbc.postgres,odbc.mysql),
	for c in $connectors; do every="${every}drivers.$c,"; done
	GOARCH=arm GOARM=7 go build -trimpath -ldflags "-s -w" -tags "${every%,}" -o "$tmp/tbgw" .
	all=$(stat -c %s "$tmp/tbgw")
	echo "armv7, all connectors: $all bytes; without each one, less (sizes step by 64 KiB):"
	for c in $connectors; do
		GOARCH=arm GOARM=7 go build -trimpath -ldflags "-s -w" -tags "${every/,drivers.$c,/,}" -o "$tmp/tbgw" .
		printf '%9d %s\n' "$((all - $(stat -c %s "$tmp/tbgw")))" "$c"
	done | sort -rn
	exit 0
fi

status=0
for arch in armv7 mipsle; do
	read -ra env <<<"$(envOf $arch)"
	for b in all full core $connectors; do
		env "${env[@]}" go build -trimpath -ldflags "-s -w" -tags "$(product_tags "${tagsOf[$b]}")" -o "$tmp/tbgw" .
		size=$(stat -c %s "$tmp/tbgw")
		if [ "$mode" = -measure ]; then
			printf '%-7s %-10s %9d\n' "$arch" "$b" "$size"
			continue
		fi
		max=$(awk -v a="$arch" -v b="$b" '$1 == a && $2 == b {print $3}' "$budget")
		if [ -z "$max" ]; then
			echo "FAIL: no budget for $arch $b ($size bytes) in $budget"
			status=1
		elif [ "$size" -gt "$max" ]; then
			echo "FAIL: $arch $b: $size bytes, budget $max (+$((size - max)))"
			status=1
		else
			printf '%-7s %-10s %9d <= %9d\n' "$arch" "$b" "$size" "$max"
		fi
	done
done
[ "$status" = 0 ] && [ "$mode" = check ] && echo "size check OK"
exit "$status"
