#!/usr/bin/env bash
# Checks the Buildroot package (buildroot/) as far as possible without a
# Buildroot tree:
#  1. pkglint: the rules of Buildroot's utils/check-package that matter
#     (.mk, Config.in, .hash, whitespace) and the LICENSE hash;
#  2. parses tbgw.mk the way golang-package reads it, in a stub tree, for
#     both menuconfig cases (all connectors; a chosen few), checking the
#     build tags (each with the product tags of scripts/packaging/lib.sh),
#     the version fed to -X main.version and the rejection of
#     <PKG>_INSTALL_BINS (Buildroot >= 2025.11);
#  3. builds the package exactly as Buildroot does: an rsync copy of the
#     tree with the .mk's exclusions, vendored by the .mk's hook command,
#     then `go build` with HOST_GO_COMMON_ENV/HOST_GO_TARGET_ENV
#     (GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local, own empty GOPATH
#     and module cache) and golang-package's flags, with the Go of the
#     current stable and LTS Buildroot releases (BR_GO, default go1.26.3:
#     2026.05.1 and 2026.02.3 both ship Go 1.26.3), for armv7: all
#     connectors and a chosen few, with the tags tbgw.mk gives, checked in
#     the binaries' build settings. --no-build stops before this step.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/packaging/lib.sh"
BR_GO=${BR_GO:-go1.26.3}
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

echo "== pkglint"
(cd "$root" && go run ./scripts/packaging/pkglint)

echo "== tbgw.mk in a stub of Buildroot's package infrastructure"
cat >"$tmp/Makefile" <<'MK'
qstrip = $(strip $(subst ",,$(1)))
UPPERCASE = $(shell echo '$(1)' | tr a-z.- A-Z__)
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
	@echo 'TAGS=$(strip $(TBGW_TAGS))'
	@echo 'GO_ENV=$(TBGW_GO_ENV)'
	@echo 'LICENSE_FILES=$(TBGW_LICENSE_FILES)'
	@echo 'DEPENDENCIES=$(TBGW_DEPENDENCIES)'
	@echo 'EXCLUDE=$(TBGW_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS)'
	@echo 'USERS=$(strip $(TBGW_USERS))'
	@echo 'SYSV=$(if $(TBGW_INSTALL_INIT_SYSV),y)'
	@echo 'SYSTEMD=$(if $(TBGW_INSTALL_INIT_SYSTEMD),y)'
MK
mk() {
	make -s --no-print-directory -C "$tmp" MKFILE="$root/buildroot/package/tbgw/tbgw.mk" \
		BR2_EXTERNAL_TBGW_PATH="$root/buildroot" "$@" show
}
fail() { echo "FAIL: $*"; exit 1; }
out=$(mk BR2_PACKAGE_TBGW_VERSION='"1.2.3"' BR2_PACKAGE_TBGW_ALL_CONNECTORS=y)
echo "$out"
grep -qx 'LDFLAGS=-s -w -X main.version=1.2.3' <<<"$out" || fail "version not fed to -X main.version"
# Space-separated, as Buildroot passes <PKG>_TAGS; the product tags always.
base=${TBGW_PRODUCT_TAGS//,/ }
alltags=$(sed -n 's/^TAGS=//p' <<<"$out")
[ "$alltags" = "$base" ] || fail "all connectors must build with the product tags '$base' alone: '$alltags'"
grep -qx 'GO_ENV=CGO_ENABLED=0' <<<"$out" || fail "CGO_ENABLED=0"
grep -q 'DEPENDENCIES=.*ca-certificates' <<<"$out" || fail "ca-certificates"
grep -qx 'USERS=tbgw -1 tbgw -1 \* /var/lib/tbgw - dialout tbgw gateway' <<<"$out" || fail "users table"
grep -qx 'SYSV=y' <<<"$out" && grep -qx 'SYSTEMD=y' <<<"$out" || fail "init scripts (SysV and systemd)"
custom=$(mk BR2_PACKAGE_TBGW_CONNECTOR_MQTT=y BR2_PACKAGE_TBGW_CONNECTOR_MODBUS=y \
	BR2_PACKAGE_TBGW_CONNECTOR_ODBC=y BR2_PACKAGE_TBGW_CONNECTOR_ODBC_POSTGRES=y)
tags=$(sed -n 's/^TAGS=//p' <<<"$custom")
echo "menuconfig mqtt, modbus, odbc (PostgreSQL): tags '$tags'"
[ "$tags" = "custom drivers.modbus drivers.mqtt drivers.odbc odbc.postgres $base" ] || fail "connector tags: $tags"
# The opt-in SQL drivers, with all connectors and with a chosen few.
tags=$(sed -n 's/^TAGS=//p' <<<"$(mk BR2_PACKAGE_TBGW_ALL_CONNECTORS=y BR2_PACKAGE_TBGW_CONNECTOR_ODBC_SQLITE=y BR2_PACKAGE_TBGW_CONNECTOR_ODBC_MSSQL=y)")
echo "menuconfig all connectors, SQLite, SQL Server: tags '$tags'"
[ "$tags" = "odbc.sqlite odbc.mssql $base" ] || fail "opt-in SQL driver tags: $tags"
tags=$(sed -n 's/^TAGS=//p' <<<"$(mk BR2_PACKAGE_TBGW_CONNECTOR_ODBC=y BR2_PACKAGE_TBGW_CONNECTOR_ODBC_MSSQL=y)")
[ "$tags" = "custom drivers.odbc odbc.mssql $base" ] || fail "opt-in SQL driver tags, custom: $tags"
# Every SQL driver file of the odbc connector has its menuconfig option.
for f in "$root"/drivers/odbc/db_*.go; do
	d=$(sed -n 's#^//go:build .*odbc\.\([a-z]*\).*$#\1#p' "$f")
	[ -n "$d" ] && [ "$d" != cgo ] || continue
	grep -q "^config BR2_PACKAGE_TBGW_CONNECTOR_ODBC_${d^^}\$" "$root/buildroot/package/tbgw/Config.in" || fail "no menuconfig option for SQL driver $d"
done
# Every connector of drivers/all has its menuconfig option.
for f in "$root"/drivers/all/*.go; do
	c=$(sed -n 's#^//go:build !custom || drivers\.\(.*\)$#\1#p' "$f")
	[ -n "$c" ] || continue
	grep -q "^config BR2_PACKAGE_TBGW_CONNECTOR_${c^^}\$" "$root/buildroot/package/tbgw/Config.in" || fail "no menuconfig option for connector $c"
	grep -qw "$c" <<<"$(grep -A2 '^TBGW_CONNECTOR_TYPES' "$root/buildroot/package/tbgw/tbgw.mk")" || fail "connector $c missing from TBGW_CONNECTOR_TYPES"
done
v=$(sed -n 's/^VERSION=//p' <<<"$(mk)")
[ -n "$v" ] || fail "empty version without BR2_PACKAGE_TBGW_VERSION"
echo "default version: $v"
for f in LICENSE etc/tbgw/tb_gateway.json etc/tbgw/simulator.json etc/default/tbgw etc/init.d/S95tbgw etc/systemd/tbgw.service; do
	[ -f "$root/$f" ] || fail "$f missing"
done
if grep -q '"type"' <(sed -n '/"connectors"/,$p' "$root/etc/tbgw/tb_gateway.json"); then
	fail "the shipped configuration enables a connector"
fi

if [ "${1:-}" = --no-build ]; then
	echo "buildroot check OK (no build)"
	exit 0
fi

echo "== build with Buildroot's Go environment ($BR_GO)"
gobin=$(go_toolchain "$BR_GO")
excl=$(sed -n 's/^EXCLUDE=//p' <<<"$out")
src="$tmp/build/tbgw-custom"
mkdir -p "$src"
# shellcheck disable=SC2086
rsync -au --chmod=u=rwX,go=rX $excl --exclude .git "$root/" "$src/"
[ ! -e "$src/dist" ] || fail "dist/ copied"
[ ! -e "$src/buildroot" ] || fail "buildroot/ copied"
# The .mk's vendoring hook, as Buildroot runs it (its own module cache).
gopath="$tmp/host/share/go-path"
if [ ! -f "$src/vendor/modules.txt" ]; then
	(cd "$src" && GO111MODULE=on GOROOT="$(dirname "$(dirname "$gobin")")" GOPATH="$gopath" \
		GOMODCACHE="$gopath/pkg/mod" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
		GOPROXY="$(local_goproxy)" CGO_ENABLED=0 "$gobin" mod vendor -modcacherw)
fi
# The module cache is gone: the build may only use vendor/.
chmod -R u+w "$gopath" && rm -rf "$gopath"
br_build() { # $1: tags, $2: output
	(cd "$src" && env -i PATH="$PATH" HOME="$tmp" \
		GO111MODULE=on GOFLAGS=-mod=vendor GOROOT="$(dirname "$(dirname "$gobin")")" \
		GOPATH="$gopath" GOCACHE="$(go env GOCACHE)" GOMODCACHE="$gopath/pkg/mod" \
		GOPROXY=off GOTOOLCHAIN=local GOBIN= CGO_ENABLED=0 \
		GOOS=linux GOARCH=arm GOARM=7 \
		"$gobin" build -ldflags "-s -w -X main.version=1.2.3" -modcacherw -tags "$1" \
		-trimpath -p 2 -buildvcs=false -o "$2" github.com/tbgw/tbgw/.)
	"$gobin" version "$2" | grep -q "$BR_GO" || fail "$2 not built by $BR_GO"
	has_product_tags "$2" || fail "$2 without the product tags"
	echo "built linux/arm (armv7), tags '$1': $(stat -c %s "$2") bytes"
}
br_build "$alltags" "$src/bin/tbgw"
br_build "$(sed -n 's/^TAGS=//p' <<<"$custom")" "$src/bin/tbgw-custom"
echo "buildroot check OK"
