#!/usr/bin/env bash
# The size budget: builds tbgw stripped (-s -w, -trimpath, CGO_ENABLED=0)
# with all connectors (the default build: every connector, the SQL
# connector with its default drivers PostgreSQL and MySQL), with all
# connectors and the opt-in SQL drivers too ("full": -tags
# odbc.sqlite,odbc.mssql) and with each connector alone (-tags
# custom,drivers.<type>; odbc with all four pure-Go SQL drivers) for armv7
# and mipsle (GOMIPS=softfloat), and fails when a binary is larger than
# its line in scripts/packaging/size-budget.txt. Run by `make test`.
#   size-check.sh            check
#   size-check.sh -measure   print the sizes as budget lines (no check)
#   size-check.sh -explain   where the bytes of the all-connector armv7
#                            build go: the largest packages (go tool nm -size)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
budget="$root/scripts/packaging/size-budget.txt"
mode=${1:-check}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
export CGO_ENABLED=0 GOOS=linux

if [ "$mode" = -explain ]; then
	GOARCH=arm GOARM=7 go build -trimpath -o "$tmp/tbgw" .
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
declare -A tagsOf=([all]="" [full]="odbc.sqlite,odbc.mssql")
for c in $connectors; do
	t="custom,drivers.$c"
	[ "$c" = odbc ] && t="$t,odbc.postgres,odbc.mysql,odbc.mssql,odbc.sqlite"
	tagsOf[$c]=$t
done
status=0
for arch in armv7 mipsle; do
	case $arch in
	armv7) env=(GOARCH=arm GOARM=7) ;;
	mipsle) env=(GOARCH=mipsle GOMIPS=softfloat) ;;
	esac
	for b in all full $connectors; do
		env "${env[@]}" go build -trimpath -ldflags "-s -w" -tags "${tagsOf[$b]}" -o "$tmp/tbgw" .
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
