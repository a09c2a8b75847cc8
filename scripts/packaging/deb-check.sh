#!/usr/bin/env bash
# Builds the amd64 .deb (scripts/packaging/deb.sh) and installs, upgrades,
# removes and purges it with dpkg in a throw-away root directory (dpkg
# --root; no container): a chroot holding just the host programs the
# maintainer scripts call. Checks the files and their modes, the tbgw
# user and its dialout membership, the conffiles (an edit survives an
# upgrade and a remove, a purge removes them), the state directory, and
# runs the installed binary in the chroot; its build settings name the
# product tags (scripts/packaging/lib.sh). Needs root (chroot).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/packaging/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg --root runs the maintainer scripts in a chroot)"

OUT="$tmp/out" bash "$root/scripts/packaging/deb.sh" amd64
deb=$(echo "$tmp"/out/tbgw_*_amd64.deb)
command -v lintian >/dev/null && { lintian --no-tag-display-limit "$deb" || true; }

r="$tmp/root"
mkdir -p "$r"/{bin,usr/bin,usr/sbin,sbin,etc,tmp,var/lib/dpkg/info,var/lib/dpkg/updates,var/lib/dpkg/triggers,lib64}
touch "$r/var/lib/dpkg/status" "$r/var/lib/dpkg/available"
# The programs the maintainer scripts (and dpkg's PATH check) use, with
# their libraries.
add() {
	local p dst
	p=$(command -v "$1") || fail "$1 missing on the host"
	dst="$r/usr/bin/$(basename "$p")"
	case $1 in groupadd | useradd | usermod | ldconfig | start-stop-daemon) dst="$r/usr/sbin/$1" ;; esac
	cp -L "$p" "$dst"
	{ ldd "$p" 2>/dev/null || true; } | { grep -o "/[^ ]*" || true; } | while read -r lib; do
		mkdir -p "$r$(dirname "$lib")"
		cp -Ln "$lib" "$r$lib"
	done
}
for p in sh getent groupadd useradd usermod mkdir chown chmod rm rmdir cat ldconfig start-stop-daemon; do add "$p"; done
ln -sf ../usr/bin/sh "$r/bin/sh"
cp /usr/sbin/nologin "$r/usr/sbin/nologin"
mkdir -p "$r/dev" && mknod -m 666 "$r/dev/null" c 1 3
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\ndialout:x:20:\n' >"$r/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$r/etc/shadow"
printf 'root:*::\ndialout:*::\n' >"$r/etc/gshadow"
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$r/etc/nsswitch.conf"
# Dependencies (ca-certificates, passwd) are the host's, not this root's.
D() { PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --root="$r" --force-depends --log=/dev/null "$@"; }

echo "== install"
D -i "$deb"
for f in usr/bin/tbgw etc/tbgw/tb_gateway.json etc/default/tbgw usr/lib/systemd/system/tbgw.service usr/lib/sysusers.d/tbgw.conf; do
	[ -f "$r/$f" ] || fail "$f not installed"
done
cmp -s "$root/etc/systemd/tbgw.service" "$r/usr/lib/systemd/system/tbgw.service" || fail "unit differs from etc/systemd"
grep -q '^tbgw:x:[0-9]*:[0-9]*:tbgw gateway:/var/lib/tbgw:/usr/sbin/nologin$' "$r/etc/passwd" || fail "tbgw user: $(grep tbgw "$r/etc/passwd")"
grep -q '^dialout:x:20:tbgw$' "$r/etc/group" || fail "tbgw not in dialout"
uid=$(awk -F: '$1 == "tbgw" {print $3}' "$r/etc/passwd")
[ "$(stat -c '%a %u' "$r/var/lib/tbgw")" = "700 $uid" ] || fail "/var/lib/tbgw: $(stat -c '%a %u' "$r/var/lib/tbgw")"
[ "$(stat -c '%a %u' "$r/etc/tbgw")" = "750 $uid" ] || fail "/etc/tbgw: $(stat -c '%a %u' "$r/etc/tbgw")"
[ "$(stat -c '%a %u' "$r/etc/tbgw/tb_gateway.json")" = "640 $uid" ] || fail "tb_gateway.json mode"
D -s tbgw | grep -q '^Conffiles:' || fail "conffiles not recorded"
has_product_tags "$r/usr/bin/tbgw" || fail "/usr/bin/tbgw built without the product tags"
chroot "$r" /usr/bin/tbgw -version
chroot "$r" /usr/bin/tbgw check -c /etc/tbgw -data /var/lib/tbgw || fail "tbgw check of the shipped configuration"

echo "== upgrade keeps an edited conffile"
echo '# edited' >>"$r/etc/default/tbgw"
D -i "$deb"
grep -q '^# edited$' "$r/etc/default/tbgw" || fail "edited conffile replaced on upgrade"

echo "== remove"
D -r tbgw
[ ! -e "$r/usr/bin/tbgw" ] || fail "binary left after remove"
grep -q '^# edited$' "$r/etc/default/tbgw" || fail "conffile removed by remove"
D -s tbgw | grep -q '^Status: deinstall ok config-files' || fail "not in config-files state"

echo "== purge"
D -P tbgw
[ ! -e "$r/etc/default/tbgw" ] && [ ! -e "$r/etc/tbgw" ] || fail "conffiles left after purge"
[ ! -e "$r/var/lib/tbgw" ] || fail "state left after purge"
if D -s tbgw >/dev/null 2>&1; then fail "still known to dpkg after purge"; fi
echo "deb check OK"
