#!/usr/bin/env bash
# Parses buildroot/package/tbgw/tbgw.mk the way Buildroot's
# golang-package infrastructure reads it, in a stub tree (no Buildroot
# download here): the .mk must parse, must not set variables current
# Buildroot rejects (<PKG>_INSTALL_BINS), and must feed a defined version
# to -X main.version. Then builds the package with Buildroot's Go
# environment (GOFLAGS=-mod=vendor, GOPROXY=off, GOTOOLCHAIN=local,
# CGO_ENABLED=0, -trimpath -buildvcs=false) from a vendored copy of the
# tree, excluding what the .mk excludes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/Makefile" <<'MK'
qstrip = $(strip $(subst ",,$(1)))
pkgname = tbgw
INSTALL = install
TARGET_DIR = /target
GO_BIN = go
HOST_GO_COMMON_ENV = GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local
define golang-package
ifneq ($$(TBGW_INSTALL_BINS),)
$$(error tbgw sets TBGW_INSTALL_BINS, which current Buildroot rejects)
endif
endef
include $(MKFILE)
show:
	@echo 'VERSION=$(TBGW_GW_VERSION)'
	@echo 'LDFLAGS=$(TBGW_LDFLAGS)'
	@echo 'TAGS=$(TBGW_TAGS)'
	@echo 'LICENSE_FILES=$(TBGW_LICENSE_FILES)'
	@echo 'DEPENDENCIES=$(TBGW_DEPENDENCIES)'
	@echo 'EXCLUDE=$(TBGW_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS)'
MK

mk() {
	make -s --no-print-directory -C "$tmp" MKFILE="$root/buildroot/package/tbgw/tbgw.mk" \
		BR2_EXTERNAL_TBGW_PATH="$root/buildroot" "$@" show
}
out=$(mk BR2_PACKAGE_TBGW_VERSION='"1.2.3"' BR2_PACKAGE_TBGW_CONNECTORS='"mqtt modbus"')
echo "$out"
grep -qx 'LDFLAGS=-s -w -X main.version=1.2.3' <<<"$out" || { echo "FAIL: version not fed to -X main.version"; exit 1; }
grep -qx 'TAGS=custom drivers.mqtt drivers.modbus' <<<"$out" || { echo "FAIL: connector tags"; exit 1; }
grep -q 'DEPENDENCIES=.*ca-certificates' <<<"$out" || { echo "FAIL: ca-certificates"; exit 1; }
out=$(mk)
v=$(sed -n 's/^VERSION=//p' <<<"$out")
[ -n "$v" ] || { echo "FAIL: empty version without BR2_PACKAGE_TBGW_VERSION"; exit 1; }
echo "default version: $v"
for f in LICENSE etc/tbgw/tb_gateway.json etc/tbgw/simulator.json etc/default/tbgw etc/init.d/S95tbgw etc/systemd/tbgw.service; do
	[ -f "$root/$f" ] || { echo "FAIL: $f missing"; exit 1; }
done
if grep -q '"type"' <(sed -n '/"connectors"/,$p' "$root/etc/tbgw/tb_gateway.json"); then
	echo "FAIL: the shipped configuration enables a connector"; exit 1
fi

# The build with Buildroot's Go environment, from an rsync copy like
# Buildroot's, vendored like the .mk's hook.
excl=$(sed -n 's/^EXCLUDE=//p' <<<"$out")
src="$tmp/build/tbgw-custom"
mkdir -p "$src"
# shellcheck disable=SC2086
rsync -a --exclude .git $excl "$root/" "$src/"
[ ! -e "$src/dist" ] || { echo "FAIL: dist/ copied"; exit 1; }
(cd "$src" && GOFLAGS=-mod=mod go mod vendor)
(cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 \
	go build -ldflags "-s -w -X main.version=1.2.3" -modcacherw -tags "" -trimpath -buildvcs=false \
	-o "$tmp/tbgw" github.com/tbgw/tbgw/.)
echo "built linux/arm (armv7) with Buildroot's Go environment: $(stat -c %s "$tmp/tbgw") bytes"
echo "buildroot check OK"
