#!/usr/bin/env bash
# Checks the Yocto layer (yocto/meta-tbgw) without bitbake:
#  1. pkglint: bitbake statement syntax, layer.conf keys, the recipe's
#     LICENSE checksum, require'd and file:// files present;
#  2. tbgw-go-mods.inc and tbgw-licenses.inc are current: regenerated from
#     go.mod (scripts/packaging/yoctomods, what do_update_modules does) and
#     compared;
#  3. the recipe's tbgw_tags() (PACKAGECONFIG -> build tags) evaluated with
#     python3 for the default and a chosen PACKAGECONFIG, each with the
#     product tags of scripts/packaging/lib.sh;
#  4. builds as go-mod.bbclass does, offline: a module cache holding only
#     the files the gomod:// entries fetch (GOMODCACHE=${S}/pkg/mod),
#     GOPATH=${B}, GOPROXY=off (do_compile has no network), GOENV=off,
#     GOTOOLCHAIN=local, `go install -v -ldflags=... -trimpath -modcacherw
#     -buildmode=pie -tags=...`, for arm64 (CGO_ENABLED=0: no target
#     toolchain here), with the Go of the oldest release the layer
#     supports (YOCTO_GO, default go1.25.9: whinlatter); the product tags
#     checked in the binaries' build settings.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/packaging/lib.sh"
YOCTO_GO=${YOCTO_GO:-go1.25.9}
recipe_dir="$root/yocto/meta-tbgw/recipes-connectivity/tbgw"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

echo "== pkglint"
(cd "$root" && go run ./scripts/packaging/pkglint)

echo "== PACKAGECONFIG -> build tags"
tags_of() { # $1: PACKAGECONFIG
	python3 - "$recipe_dir/tbgw_git.bb" "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
var = lambda n: re.search(r'^%s = "([^"]*)"' % n, text, re.M).group(1)
src = re.search(r'^def tbgw_tags\(d\):\n(?:(?: .*)?\n)+', text, re.M).group(0)
env = {}
exec(src, env)
class D:
    def getVar(self, n):
        return {"PACKAGECONFIG": sys.argv[2], "TBGW_CONNECTORS": var("TBGW_CONNECTORS"),
                "TBGW_ODBC_DRIVERS": var("TBGW_ODBC_DRIVERS"),
                "TBGW_ODBC_OPTIN_DRIVERS": var("TBGW_ODBC_OPTIN_DRIVERS"),
                "TBGW_BASE_TAGS": var("TBGW_BASE_TAGS")}[n]
print(env["tbgw_tags"](D()))
PY
}
all=$(sed -n 's/^TBGW_CONNECTORS = "\(.*\)"/\1/p;s/^TBGW_ODBC_DRIVERS = "\(.*\)"/\1/p' "$recipe_dir/tbgw_git.bb" | tr '\n' ' ')
# The product tags (no HTTP/2) in every build.
base=$TBGW_PRODUCT_TAGS
deftags=$(tags_of "$all")
echo "PACKAGECONFIG default: -tags=$deftags"
[ "$deftags" = "$base" ] || fail "the default PACKAGECONFIG must build with the product tags '$base' alone: '$deftags'"
custom=$(tags_of "mqtt modbus odbc odbc-postgres")
echo "PACKAGECONFIG 'mqtt modbus odbc odbc-postgres': -tags=$custom"
[ "$custom" = "custom,drivers.modbus,drivers.mqtt,drivers.odbc,odbc.postgres,$base" ] || fail "tags: $custom"
# The opt-in SQL drivers (SQLite, SQL Server), with all connectors and with a chosen few.
optin=$(tags_of "$all odbc-sqlite odbc-mssql")
echo "PACKAGECONFIG default + 'odbc-sqlite odbc-mssql': -tags=$optin"
[ "$optin" = "odbc.sqlite,odbc.mssql,$base" ] || fail "opt-in SQL driver tags: $optin"
[ "$(tags_of "odbc odbc-mssql")" = "custom,drivers.odbc,odbc.mssql,$base" ] || fail "opt-in SQL driver tags, custom: $(tags_of "odbc odbc-mssql")"
# Every SQL driver file of the odbc connector has its PACKAGECONFIG.
for f in "$root"/drivers/odbc/db_*.go; do
	x=$(sed -n 's#^//go:build .*odbc\.\([a-z]*\).*$#\1#p' "$f")
	[ -n "$x" ] && [ "$x" != cgo ] || continue
	grep -q "^PACKAGECONFIG\[odbc-$x\] = " "$recipe_dir/tbgw_git.bb" || fail "no PACKAGECONFIG[odbc-$x]"
done
for f in "$root"/drivers/all/*.go; do
	c=$(sed -n 's#^//go:build !custom || drivers\.\(.*\)$#\1#p' "$f")
	[ -z "$c" ] && continue
	grep -q "^PACKAGECONFIG\[$c\] = " "$recipe_dir/tbgw_git.bb" || fail "no PACKAGECONFIG[$c]"
done

echo "== go-mods.inc and licenses.inc current"
mkdir -p "$tmp/inc"
(cd "$root" && GOPROXY="$(local_goproxy)" GOSUMDB=off go run ./scripts/packaging/yoctomods \
	-out "$tmp/inc" -pn tbgw -cache "$tmp/S/pkg/mod")
for f in tbgw-go-mods.inc tbgw-licenses.inc; do
	diff -u "$recipe_dir/$f" "$tmp/inc/$f" || fail "$f is stale: go run ./scripts/packaging/yoctomods -out ${recipe_dir#"$root"/}"
done
[ "${1:-}" = --no-build ] && { echo "yocto check OK (no build)"; exit 0; }

echo "== build with go-mod.bbclass's environment ($YOCTO_GO)"
gobin=$(go_toolchain "$YOCTO_GO")
copy_tree "$root" "$tmp/S/src/github.com/tbgw/tbgw"
mkdir -p "$tmp/B"
ln -s "$tmp/S/src" "$tmp/B/src"
yb() { # $1: tags
	rm -rf "$tmp/B/bin"
	(cd "$tmp/B/src/github.com/tbgw/tbgw" && env -i PATH="$PATH" HOME="$tmp" \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GOPATH="$tmp/B" GOMODCACHE="$tmp/S/pkg/mod" \
		GOCACHE="$(go env GOCACHE)" GOENV=off GOPROXY=off GOTOOLCHAIN=local GOPATH_OMIT_IN_ACTIONID=1 \
		"$gobin" install -p 2 -v -ldflags="-X main.version=0.0+git" -trimpath -modcacherw \
		-buildmode=pie -tags="$1" github.com/tbgw/tbgw 2>"$tmp/log") ||
		{ tail -20 "$tmp/log"; fail "build, tags '$1'"; }
	bin="$tmp/B/bin/linux_arm64/tbgw"
	"$gobin" version "$bin" | grep -q "$YOCTO_GO" || fail "not built by $YOCTO_GO"
	has_product_tags "$bin" || fail "built without the product tags"
	echo "linux/arm64 pie, tags '$1': $(stat -c %s "$bin") bytes (unstripped: Yocto strips)"
}
# The default PACKAGECONFIG with the opt-in SQL drivers: every package of
# the default build and the modules only the opt-in drivers need.
yb "$optin"
yb "$custom"
echo "yocto check OK"
