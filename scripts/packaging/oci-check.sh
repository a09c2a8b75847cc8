#!/usr/bin/env bash
# Builds the container image (scripts/packaging/oci.sh, amd64) twice and
# checks it without a container daemon: the same digest both times
# (reproducible), skopeo reads the layout, umoci unpacks it (verifying
# every digest and the layer's diff_id), the files' owners and modes, the
# image config (user, entrypoint, TB_GW_* env, state volume), and the
# gateway runs from the unpacked root as the image's user: -version and
# `check` of the shipped configuration with TB_GW_HOST and
# TB_GW_ACCESS_TOKEN from the environment; its build settings name the
# product tags (scripts/packaging/lib.sh). Needs root (chroot).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/peers/lib.sh"
. "$root/scripts/packaging/lib.sh"
need_apt umoci:umoci skopeo:skopeo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

OUT="$tmp/a" VERSION=check bash "$root/scripts/packaging/oci.sh" amd64
OUT="$tmp/b" VERSION=check bash "$root/scripts/packaging/oci.sh" amd64 >/dev/null
cmp -s "$tmp/a/tbgw-oci.tar" "$tmp/b/tbgw-oci.tar" || fail "two builds differ (not reproducible)"
mkdir "$tmp/layout"
tar -C "$tmp/layout" -xf "$tmp/a/tbgw-oci.tar"
skopeo inspect --override-arch amd64 "oci:$tmp/layout:check" >"$tmp/inspect.json"
grep -q '"Architecture": "amd64"' "$tmp/inspect.json" || fail "skopeo: $(cat "$tmp/inspect.json")"
umoci unpack --image "$tmp/layout:check" "$tmp/bundle" >/dev/null
fs="$tmp/bundle/rootfs"
cfg="$tmp/bundle/config.json"
grep -q '"uid": *370' "$cfg" && grep -q '"gid": *370' "$cfg" || fail "image user is not 370:370"
grep -q '"/usr/bin/tbgw"' "$cfg" || fail "entrypoint"
grep -q 'TB_GW_DATA_DIR=/var/lib/tbgw' "$cfg" || fail "TB_GW_DATA_DIR"
grep -rlq "\"Volumes\":{\"/var/lib/tbgw\":{}}" "$tmp/layout/blobs/sha256" || fail "no /var/lib/tbgw volume"
[ "$(stat -c '%a %u:%g' "$fs/var/lib/tbgw")" = "700 370:370" ] || fail "/var/lib/tbgw: $(stat -c '%a %u:%g' "$fs/var/lib/tbgw")"
[ "$(stat -c '%a %u:%g' "$fs/etc/tbgw")" = "750 370:370" ] || fail "/etc/tbgw"
[ "$(stat -c '%a %u:%g' "$fs/usr/bin/tbgw")" = "755 0:0" ] || fail "/usr/bin/tbgw"
[ -s "$fs/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates"
has_product_tags "$fs/usr/bin/tbgw" || fail "/usr/bin/tbgw built without the product tags"
file_list=$(cd "$fs" && find . -type f | sort | tr '\n' ' ')
echo "files: $file_list"
chroot --userspec=370:370 "$fs" /usr/bin/tbgw -version
env -i TB_GW_CONFIG_DIR=/etc/tbgw TB_GW_DATA_DIR=/var/lib/tbgw TB_GW_HOST=tb.example.com \
	TB_GW_ACCESS_TOKEN=abc123 "$(command -v chroot)" --userspec=370:370 "$fs" /usr/bin/tbgw check >"$tmp/check.out" 2>&1 ||
	{ cat "$tmp/check.out"; fail "tbgw check in the image"; }
cat "$tmp/check.out"
echo "oci check OK"
