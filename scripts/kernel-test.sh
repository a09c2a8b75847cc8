#!/usr/bin/env bash
# Runs the tests that need kernel features this machine's kernel may lack
# (SocketCAN, Bluetooth) on a real Linux kernel: Debian's stock kernel
# package, unpacked (not installed) into $TBGW_CACHE, booted under
# qemu-system-x86_64 (TCG) with a small initramfs whose /init is
# scripts/kernelinit. The test binaries, their kernel modules and the host
# tools they drive are listed in scripts/kernel-tests.txt, one package per
# line:
#
#   <go package> [key=value ...]
#     modules=a,b     kernel modules to load (dependencies are added)
#     apt=p,q         Debian packages providing the bins (installed here)
#     bins=/x,/y      host binaries copied in, with their shared libraries
#     dirs=/d,/e      host directories or files copied in as they are (shared
#                     objects in them bring their libraries)
#     gobin=/dst=pkg  a Go main package built (static) to /dst in the VM;
#                     /dst=pkg#t,u builds it with tags t,u
#     tags=t,u        build tags for `go test -c` (default: kerneltest)
#     timeout=90s     the binary's -test.timeout (default 120s)
#     args=a,b        more arguments for the binary (-test.run=..., -test.bench=...)
#
# Test files that need the kernel carry `//go:build kerneltest` so the
# ordinary `go test ./...` on the host does not compile them. A failing or
# skipped test fails the run; the whole run is bounded by
# $TBGW_KERNEL_TIMEOUT seconds (default 1200, above the sum of the
# binaries' timeouts).
#
# Environment: TBGW_KERNEL_TESTS=<regexp> selects list lines by package;
# TBGW_KERNEL_RUN=<regexp> is passed as -test.run to every binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export TBGW_CACHE=${TBGW_CACHE:-$PWD/.cache}
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
LIST=${TBGW_KERNEL_LIST:-scripts/kernel-tests.txt}
SELECT=${TBGW_KERNEL_TESTS:-.}
mkdir -p "$TBGW_CACHE"
. scripts/peers/lib.sh

apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -o DPkg::Lock::Timeout=600 -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
    apt-get install -o DPkg::Lock::Timeout=600 -y --no-install-recommends "${missing[@]}" >/dev/null
  }
}

# ---- read the list
pkgs=(); mods=""; apts=""; bins=""; dirs=""; gobins=""
declare -A tags timeouts targs
while read -r pkg rest; do
  case "$pkg" in ''|'#'*) continue ;; esac
  [[ "$pkg" =~ $SELECT ]] || continue
  pkgs+=("$pkg"); tags[$pkg]=kerneltest; timeouts[$pkg]=120s; targs[$pkg]=""
  for kv in $rest; do
    case "$kv" in
      modules=*) mods="$mods ${kv#modules=}" ;;
      apt=*)     apts="$apts ${kv#apt=}" ;;
      bins=*)    bins="$bins ${kv#bins=}" ;;
      dirs=*)    dirs="$dirs ${kv#dirs=}" ;;
      gobin=*)   gobins="$gobins ${kv#gobin=}" ;;
      tags=*)    tags[$pkg]=${kv#tags=} ;;
      timeout=*) timeouts[$pkg]=${kv#timeout=} ;;
      args=*)    targs[$pkg]=$(echo "${kv#args=}" | tr ',' ' ') ;;
      *) echo "kernel-test: $LIST: $pkg: unknown field $kv" >&2; exit 2 ;;
    esac
  done
done < "$LIST"
[ ${#pkgs[@]} -gt 0 ] || { echo "kernel-test: no package selected"; exit 2; }
mods=$(echo "$mods" | tr ', ' '\n\n' | awk 'NF && !seen[$0]++')
bins=$(echo "$bins" | tr ', ' '\n\n' | awk 'NF && !seen[$0]++')
dirs=$(echo "$dirs" | tr ', ' '\n\n' | awk 'NF && !seen[$0]++')

# ---- host packages and the kernel (cached)
echo "== kernel-test: host packages"
apt_install qemu-system-x86 cpio kmod xz-utils zstd $(echo "$apts" | tr ',' ' ')
KPKG=${TBGW_KERNEL_PKG:-}
if [ -z "$KPKG" ]; then
  KPKG=$(ls -d "$TBGW_CACHE"/kernel/linux-image-* 2>/dev/null | head -1 | xargs -r basename || true)
  if [ -z "$KPKG" ]; then
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | grep -o 'linux-image-[0-9][^ ]*' | head -1 || true)
    if [ -z "$KPKG" ]; then
      apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
      KPKG=$(apt-cache depends linux-image-amd64 | grep -o 'linux-image-[0-9][^ ]*' | head -1)
    fi
  fi
fi
KROOT=$TBGW_CACHE/kernel/$KPKG
KVER=${KPKG#linux-image-}
if [ ! -f "$KROOT/.done" ]; then
  echo "== kernel-test: fetching $KPKG"
  rm -rf "$KROOT"; mkdir -p "$KROOT"
  (cd "$KROOT" && apt-get download "$KPKG" >/dev/null 2>&1 || { apt-get update >/dev/null; apt-get download "$KPKG" >/dev/null; })
  dpkg-deb -x "$KROOT"/*.deb "$KROOT"
  rm -f "$KROOT"/*.deb
  depmod -b "$KROOT" "$KVER"
  touch "$KROOT/.done"
fi
VMLINUZ=$KROOT/boot/vmlinuz-$KVER

# ---- build: init, test binaries, Go programs
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/root
mkdir -p "$STAGE"/{etc/rig,lib/modules/rig,tests,bin,dev,proc,sys,tmp,run}
echo "== kernel-test: build"
export CGO_ENABLED=0
go build -trimpath -ldflags='-s -w' -o "$STAGE/init" ./scripts/kernelinit
: > "$STAGE/etc/rig/tests"
for pkg in "${pkgs[@]}"; do
  name=$(echo "$pkg" | sed 's#^\./##; s#^\.$#tbgw#; s#/#_#g').test
  go test -c -trimpath -tags "${tags[$pkg]}" -o "$STAGE/tests/$name" "$pkg"
  # The binary runs in a copy of its package directory's testdata, as go
  # test runs it in the package directory.
  dir=/src/${name%.test}
  mkdir -p "$STAGE$dir"
  [ -d "$pkg/testdata" ] && cp -r "$pkg/testdata" "$STAGE$dir/"
  echo "/tests/$name ${timeouts[$pkg]} $dir ${targs[$pkg]}" >> "$STAGE/etc/rig/tests"
done
for g in $gobins; do
  dst=${g%%=*}; src=${g#*=}; gtags=""
  case "$src" in *'#'*) gtags=${src#*#}; src=${src%%#*} ;; esac
  mkdir -p "$STAGE/$(dirname "$dst")"
  go build -trimpath -ldflags='-s -w' -tags "$gtags" -o "$STAGE/$dst" "$src"
done

# ---- modules, in load order, from the unpacked tree's modules.dep
: > "$STAGE/etc/rig/modules"
for m in $mods; do
  modprobe -d "$KROOT" -S "$KVER" --show-depends "$m"
done | awk '$1=="insmod" && !seen[$2]++ {print $2}' | while read -r path; do
  base=$(basename "$path")
  case "$path" in
    *.ko.xz)  xz -dc "$path" > "$STAGE/lib/modules/rig/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$path" > "$STAGE/lib/modules/rig/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz)  gzip -dc "$path" > "$STAGE/lib/modules/rig/${base%.gz}"; base=${base%.gz} ;;
    *)        cp "$path" "$STAGE/lib/modules/rig/$base" ;;
  esac
  echo "$base" >> "$STAGE/etc/rig/modules"
done

# ---- host binaries and their shared libraries, at their host paths
for b in $bins; do
  [ -x "$b" ] || { echo "kernel-test: $b missing (apt= in $LIST?)" >&2; exit 2; }
  mkdir -p "$STAGE/$(dirname "$b")"; cp -L "$b" "$STAGE/$b"
  for lib in $(ldd "$b" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$STAGE/$(dirname "$lib")"; cp -Ln "$lib" "$STAGE/$lib"
  done
done
for d in $dirs; do
  [ -e "$d" ] || { echo "kernel-test: $d missing (apt= in $LIST?)" >&2; exit 2; }
  mkdir -p "$STAGE/$(dirname "$d")"; cp -a "$d" "$STAGE/$d"
  find "$d" -name '*.so*' -type f 2>/dev/null | while read -r so; do
    for lib in $(ldd "$so" 2>/dev/null | grep -o '/[^ ]*' || true); do
      [ -e "$STAGE/$lib" ] || { mkdir -p "$STAGE/$(dirname "$lib")"; cp -L "$lib" "$STAGE/$lib"; }
    done
  done
done
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$WORK/initrd.gz"
echo "== kernel-test: kernel $KVER, initramfs $(du -h "$WORK/initrd.gz" | cut -f1), ${#pkgs[@]} test binaries"

# ---- boot
append="console=ttyS0 panic=-1 quiet"
[ -n "${TBGW_KERNEL_RUN:-}" ] && append="$append rig.run=$TBGW_KERNEL_RUN"
log=$TBGW_CACHE/kernel-test.log
set +e
timeout -k 5 "${TBGW_KERNEL_TIMEOUT:-1200}" qemu-system-x86_64 -m 768M -smp "${TBGW_KERNEL_CPUS:-2}" \
  -nographic -no-reboot -nodefaults -no-user-config -serial stdio -monitor none \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" -append "$append" </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# isa-debug-exit: 1 is PASS, 3 is FAIL; 0 is a power-off (or a panic),
# 124 the time bound. Only init's PASS line counts.
if [ "$status" -le 1 ] && grep -q '^RIG-RESULT: PASS' "$log"; then
  echo "== kernel-test: PASS"
  exit 0
fi
echo "== kernel-test: FAIL (qemu exit $status; log: $log)"
grep -E '^(RIG-FAIL|--- FAIL|--- SKIP|panic:)' "$log" | head -40 || true
exit 1
