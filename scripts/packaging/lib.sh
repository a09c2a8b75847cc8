# shellcheck shell=bash
# Helpers of the build and packaging scripts (sourced).

# The build tags every product build of tbgw carries, whatever connectors
# it has: nethttpomithttp2 leaves out net/http's bundled HTTP/2, which tbgw
# never speaks (its HTTP clients and servers are HTTP/1.1 only), 0.5 MB
# of every build with an HTTP connector (docs/packaging.md). The Makefile,
# the Buildroot, Yocto and OpenWrt recipes and scripts/rig set it too; the
# build checks and TestProductBuildsOmitHTTP2 fail without it.
TBGW_PRODUCT_TAGS=nethttpomithttp2

# product_tags [TAGS]: the comma-separated build tags TAGS (connectors,
# SQL drivers; may be empty) with the product tags.
product_tags() {
	echo "${1:+$1,}$TBGW_PRODUCT_TAGS"
}

# has_product_tags BINARY: the build settings recorded in BINARY (go
# version -m; kept in a stripped binary) name every product tag.
has_product_tags() {
	local tags t
	tags=$(go version -m "$1" | awk '$1 == "build" && $2 ~ /^-tags=/ {sub(/^-tags=/, "", $2); print $2}')
	for t in ${TBGW_PRODUCT_TAGS//,/ }; do
		[[ ",$tags," == *",$t,"* ]] || { echo "$1 built without the build tag $t (tags '$tags')" >&2; return 1; }
	done
}

# go_toolchain VERSION: the go binary of that exact release (e.g.
# go1.26.3), fetched once through the module proxy (golang.org/toolchain)
# into the module cache. Run it with GOTOOLCHAIN=local.
go_toolchain() {
	local root
	root=$(cd / && GOTOOLCHAIN=$1 GOFLAGS='' go env GOROOT) || return 1
	[ -x "$root/bin/go" ] || { echo "no go binary for $1 in $root" >&2; return 1; }
	echo "$root/bin/go"
}

# local_goproxy: the module cache as a file:// proxy when it is warm (no
# network needed), else the default proxy.
local_goproxy() {
	local dl
	dl="$(go env GOMODCACHE)/cache/download"
	if [ -d "$dl" ]; then
		echo "file://$dl,https://proxy.golang.org"
	else
		echo "https://proxy.golang.org"
	fi
}

# copy_tree SRC DEST [TOPDIR...]: the tracked and new files of the work
# tree SRC (not .git, not ignored build outputs), without the named
# top-level directories.
copy_tree() {
	local src=$1 dest=$2
	shift 2
	mkdir -p "$dest"
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		{ if [ $# -gt 0 ]; then grep -z -v -E "^($(IFS='|'; echo "$*"))/"; else cat; fi; } |
		tar --null -T - -cf -) | tar -C "$dest" -xf -
}
