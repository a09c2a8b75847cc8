#!/usr/bin/env bash
# Checks the OpenWrt package (openwrt/tbgw) without an OpenWrt tree:
# pkglint (Makefile layout, procd init), the Makefile's GO_PKG_TAGS of
# both variants (evaluated with make in a stub of OpenWrt's include
# files; each with the product tags of scripts/packaging/lib.sh), then
# builds both variants with those tags the way
# the packages feed's golang-package.mk and golang-build.sh do: the tree
# copied as the Makefile's Build/Prepare does, the code files copied into
# $GOPATH/src/github.com/tbgw/tbgw as golang-build.sh's configure does,
# modules fetched through GOPROXY into dl/go-mod-cache, then
# `go install -modcacherw -v -buildvcs=false -trimpath -installsuffix
# softfloat -ldflags "-s -w -X main.version=..." -tags ...` with GOOS=linux
# GOARCH=mipsle GOMIPS=softfloat (a MIPS32 router without FPU, e.g.
# ramips), GOENV=off, GOTOOLCHAIN=local and the feed's Go (OPENWRT_GO,
# default go1.26.7, the packages feed's golang1.26). Not reproduced: the
# feed builds with CGO_ENABLED=1 and -linkmode external through the
# target's musl toolchain, which is not here; tbgw needs no C code, so
# CGO_ENABLED=0 builds the same Go packages. The binaries' build settings
# must name the product tags.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/packaging/lib.sh"
OPENWRT_GO=${OPENWRT_GO:-go1.26.7}
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

echo "== pkglint"
(cd "$root" && go run ./scripts/packaging/pkglint)
mk="$root/openwrt/tbgw/Makefile"
small=$(sed -n 's/^TBGW_SMALL_CONNECTORS:=.*,\([a-z ]*\))$/\1/p' "$mk")
[ -n "$small" ] || fail "no default small connector list"
for c in $small; do
	[ -f "$root/drivers/all/$c.go" ] || fail "small variant names unknown connector $c"
done
# The opt-in SQL drivers are menu options of the full variant.
for d in sqlite mssql; do
	grep -q "^  config TBGW_ODBC_${d^^}\$" "$mk" && grep -q "CONFIG_TBGW_ODBC_${d^^}),odbc.$d)" "$mk" ||
		fail "no menu option for the opt-in SQL driver $d"
done
grep -q 'procd_set_param respawn' "$root/openwrt/tbgw/files/tbgw.init" || fail "no respawn"
for o in host port token; do
	grep -q "config_get $o main $o" "$root/openwrt/tbgw/files/tbgw.init" || fail "uci option $o not read"
done

echo "== GO_PKG_TAGS of both variants (the Makefile in a stub of OpenWrt's includes)"
stub="$tmp/openwrt"
mkdir -p "$stub/include" "$stub/feeds/packages/lang/golang"
printf 'empty:=\nspace:=$(empty) $(empty)\ncomma:=,\n' >"$stub/rules.mk"
: >"$stub/include/package.mk"
: >"$stub/feeds/packages/lang/golang/golang-package.mk"
printf 'include $(MKFILE)\nshow:\n\t@echo '"'"'$(GO_PKG_TAGS)'"'"'\n' >"$stub/show.mk"
gotags() { # make variables...
	make -s --no-print-directory -C "$root/openwrt/tbgw" -f "$stub/show.mk" MKFILE="$mk" \
		TOPDIR="$stub" INCLUDE_DIR="$stub/include" "$@" show
}
fulltags=$(gotags)
smalltags=$(gotags BUILD_VARIANT=small)
echo "tbgw: '$fulltags'; tbgw-small: '$smalltags'"
[ "$fulltags" = "$TBGW_PRODUCT_TAGS" ] || fail "tbgw must build with the product tags '$TBGW_PRODUCT_TAGS' alone: '$fulltags'"
want=custom
for c in $small; do want="$want,drivers.$c"; done
[ "$smalltags" = "$want,$TBGW_PRODUCT_TAGS" ] || fail "tbgw-small tags: '$smalltags', want '$want,$TBGW_PRODUCT_TAGS'"
t=$(gotags CONFIG_TBGW_ODBC_SQLITE=y CONFIG_TBGW_ODBC_MSSQL=y)
[ "$t" = "odbc.sqlite,odbc.mssql,$TBGW_PRODUCT_TAGS" ] || fail "opt-in SQL driver tags: '$t'"
t=$(gotags BUILD_VARIANT=small CONFIG_TBGW_SMALL_CONNECTORS='"mqtt"')
[ "$t" = "custom,drivers.mqtt,$TBGW_PRODUCT_TAGS" ] || fail "tbgw-small tags with CONFIG_TBGW_SMALL_CONNECTORS: '$t'"
[ "${1:-}" = --no-build ] && { echo "openwrt check OK (no build)"; exit 0; }

gobin=$(go_toolchain "$OPENWRT_GO")
build() { # $1 variant, $2 tags
	local pkgdir="$tmp/build_dir/tbgw-$1/tbgw" gopath
	gopath="$pkgdir/.go_work/build"
	mkdir -p "$pkgdir"
	# Build/Prepare of the Makefile.
	copy_tree "$root" "$pkgdir" dist .cache openwrt buildroot yocto
	# golang-build.sh configure: code, testdata and go.mod/go.sum only.
	(cd "$pkgdir" && find ./ -path '*/.*' -prune -o -not -type d -print |
		grep -e '\.\(c\|cc\|cpp\|go\|h\|hh\|hpp\|proto\|s\)$' -e '/testdata/' -e '/go\.\(mod\|sum\|work\)$' |
		while read -r f; do mkdir -p "$gopath/src/github.com/tbgw/tbgw/$(dirname "$f")"; cp -p "$f" "$gopath/src/github.com/tbgw/tbgw/$f"; done)
	(cd "$gopath/src/github.com/tbgw/tbgw" && env -i PATH="$PATH" HOME="$tmp" \
		GOOS=linux GOARCH=mipsle GOMIPS=softfloat GO386= GOARM= GOARM64= GOMIPS64= GOAMD64= \
		CGO_ENABLED=0 GOPATH="$gopath" GOCACHE="$(go env GOCACHE)" GOMODCACHE="$tmp/dl/go-mod-cache" \
		GOENV=off GOTOOLCHAIN=local GOPROXY="$(local_goproxy)" GOFLAGS= \
		"$gobin" install -modcacherw -v -buildvcs=false -trimpath -installsuffix softfloat \
		-ldflags "-s -w -X main.version=openwrt-check" ${2:+-tags "$2"} github.com/tbgw/tbgw 2>"$tmp/log") ||
		{ tail -20 "$tmp/log"; fail "build of variant $1"; }
	bin="$gopath/bin/linux_mipsle/tbgw"
	[ -x "$bin" ] || fail "no $bin"
	"$gobin" version "$bin" | grep -q "$OPENWRT_GO" || fail "not built by $OPENWRT_GO"
	has_product_tags "$bin" || fail "built without the product tags"
	echo "tbgw-$1 (mipsle softfloat, tags '${2:-}'): $(stat -c %s "$bin") bytes"
}
build full "$fulltags"
build small "$smalltags"
echo "openwrt check OK"
