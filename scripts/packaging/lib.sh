# shellcheck shell=bash
# Helpers of the packaging checks (sourced).

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
