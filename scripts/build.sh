#!/usr/bin/env bash
# Cross-builds static tbgw binaries into dist/.
#   scripts/build.sh                 every target architecture
#   scripts/build.sh arm64 mipsle    only these
#   TAGS=custom,drivers.modbus scripts/build.sh arm   a smaller binary with chosen connectors
# Every binary also has the product tags (nethttpomithttp2: no HTTP/2;
# scripts/packaging/lib.sh).
# Targets: amd64 386 386sf (GO386=softfloat) arm64 armv7 armv6 armv5
# (GOARM=5) mips mipsle (GOMIPS=softfloat) mips64 mips64le riscv64.
# scripts/packaging/release.sh adds the packages and SHA256SUMS.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/packaging/lib.sh
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
TAGS=$(product_tags "${TAGS:-}")
OUT=${OUT:-dist}
mkdir -p "$OUT"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(amd64 386 386sf arm64 armv7 armv6 armv5 mips mipsle mips64 mips64le riscv64)
printf '%-10s %10s  %s\n' target bytes file
for t in "${targets[@]}"; do
  env=(CGO_ENABLED=0 GOOS=linux)
  case $t in
    amd64|386|arm64|riscv64) env+=(GOARCH=$t) ;;
    armv7) env+=(GOARCH=arm GOARM=7) ;;
    armv6) env+=(GOARCH=arm GOARM=6) ;;
    armv5) env+=(GOARCH=arm GOARM=5) ;;              # ARM926EJ-S and other ARMv5 SoCs, software floating point
    386sf) env+=(GOARCH=386 GO386=softfloat) ;;      # x86 without SSE2 (Geode, Vortex86, Quark)
    mips64|mips64le) env+=(GOARCH=$t) ;;             # Octeon and other MIPS64 (hardware float)
    arm)   env+=(GOARCH=arm GOARM=7) ;;
    mips|mipsle) env+=(GOARCH=$t GOMIPS=softfloat) ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  out="$OUT/tbgw-linux-$t"
  env "${env[@]}" go build -trimpath -tags "$TAGS" -ldflags "-s -w -X main.version=$VERSION" -o "$out" .
  printf '%-10s %10d  %s\n' "$t" "$(stat -c %s "$out")" "$out"
done
