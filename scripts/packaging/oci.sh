#!/usr/bin/env bash
# Builds a minimal multi-architecture container image of tbgw as an OCI
# image layout tarball, without a container daemon or builder:
#   scripts/packaging/oci.sh [amd64 arm64 arm/v7 ...]   -> $OUT/tbgw-oci.tar
# Load it with `docker load < tbgw-oci.tar` (Docker 25+), `podman load`,
# or `skopeo copy oci-archive:tbgw-oci.tar docker://REGISTRY/tbgw:TAG`.
#
# Each image is one layer: the static binary (/usr/bin/tbgw), the CA
# certificates of Debian's ca-certificates package (/etc/ssl/certs), the
# shipped configuration (/etc/tbgw, no connector enabled), /etc/passwd
# and /etc/group with the tbgw user (uid/gid 370) the image runs as, and
# /var/lib/tbgw (0700, a volume: the state). Configuration through the
# TB_GW_* environment (TB_GW_HOST, TB_GW_PORT, TB_GW_ACCESS_TOKEN, ...) or
# a bind-mounted /etc/tbgw. Layers are reproducible (sorted, fixed owners
# and times, gzip -n): the same tree gives the same digests.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$root/dist}
VERSION=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
# Build tags: all connectors and, as PCs and containers have the room, the
# opt-in SQL drivers (SQLite, SQL Server) too; and the product tags
# (scripts/packaging/lib.sh).
. "$root/scripts/packaging/lib.sh"
TAGS=$(product_tags "${TAGS-odbc.sqlite,odbc.mssql}")
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
certs=/etc/ssl/certs/ca-certificates.crt
[ -s "$certs" ] || { echo "$certs missing (apt-get install ca-certificates)" >&2; exit 1; }
platforms=("$@")
[ ${#platforms[@]} -eq 0 ] && platforms=(amd64 arm64 arm/v7)
uid=370

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
layout="$tmp/layout"
mkdir -p "$layout/blobs/sha256"
# blob FILE: moves FILE into the layout, prints "digest size".
blob() {
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$layout/blobs/sha256/$d"
	echo "sha256:$d $s"
}

manifests=()
for p in "${platforms[@]}"; do
	arch=${p%%/*}
	variant=
	[ "$arch" != "$p" ] && variant=${p#*/}
	goenv=(GOARCH="$arch")
	[ "$arch" = arm ] && goenv+=(GOARM="${variant#v}")
	rootfs="$tmp/rootfs-${p//\//-}"
	mkdir -p "$rootfs/usr/bin" "$rootfs/etc/ssl/certs" "$rootfs/etc/tbgw" "$rootfs/var/lib/tbgw" "$rootfs/tmp"
	(cd "$root" && env CGO_ENABLED=0 GOOS=linux "${goenv[@]}" go build -trimpath -buildvcs=false -tags "$TAGS" \
		-ldflags "-s -w -X main.version=$VERSION" -o "$rootfs/usr/bin/tbgw" .)
	cp "$certs" "$rootfs/etc/ssl/certs/ca-certificates.crt"
	cp "$root/etc/tbgw/tb_gateway.json" "$root/etc/tbgw/simulator.json" "$rootfs/etc/tbgw/"
	printf 'root:x:0:0:root:/:/sbin/nologin\ntbgw:x:%d:%d:tbgw gateway:/var/lib/tbgw:/sbin/nologin\n' $uid $uid >"$rootfs/etc/passwd"
	printf 'root:x:0:\ntbgw:x:%d:\n' $uid >"$rootfs/etc/group"
	chmod 0755 "$rootfs/usr/bin/tbgw"
	chmod 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt" "$rootfs/etc/passwd" "$rootfs/etc/group"
	chmod 0750 "$rootfs/etc/tbgw"
	chmod 0640 "$rootfs"/etc/tbgw/*.json
	chmod 0700 "$rootfs/var/lib/tbgw"
	chmod 1777 "$rootfs/tmp"
	# Owners: root, except what the gateway writes (its configuration on
	# remote configuration, its state).
	tar -C "$rootfs" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner --owner=0 --group=0 \
		--exclude=./etc/tbgw --exclude=./var/lib/tbgw -cf "$tmp/layer.tar" .
	tar -C "$rootfs" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner --owner=$uid --group=$uid \
		-rf "$tmp/layer.tar" ./etc/tbgw ./var/lib/tbgw
	diffid=sha256:$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
	gzip -n -9 "$tmp/layer.tar"
	read -r ldig lsize < <(blob "$tmp/layer.tar.gz")
	cat >"$tmp/config.json" <<JSON
{"created":"$created","architecture":"$arch",${variant:+"variant":"$variant",}"os":"linux","config":{"User":"$uid:$uid","Env":["PATH=/usr/bin","TB_GW_CONFIG_DIR=/etc/tbgw","TB_GW_DATA_DIR=/var/lib/tbgw"],"Entrypoint":["/usr/bin/tbgw"],"WorkingDir":"/var/lib/tbgw","Volumes":{"/var/lib/tbgw":{}},"StopSignal":"SIGTERM","Labels":{"org.opencontainers.image.title":"tbgw","org.opencontainers.image.description":"ThingsBoard IoT Gateway in Go","org.opencontainers.image.version":"$VERSION","org.opencontainers.image.licenses":"Apache-2.0","org.opencontainers.image.source":"https://github.com/tbgw/tbgw"}},"rootfs":{"type":"layers","diff_ids":["$diffid"]},"history":[{"created":"$created","created_by":"scripts/packaging/oci.sh"}]}
JSON
	read -r cdig csize < <(blob "$tmp/config.json")
	cat >"$tmp/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$cdig","size":$csize},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$ldig","size":$lsize}]}
JSON
	read -r mdig msize < <(blob "$tmp/manifest.json")
	manifests+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$mdig\",\"size\":$msize,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"${variant:+,\"variant\":\"$variant\"}}}")
	printf '%-8s layer %9d bytes  %s\n' "$p" "$lsize" "$mdig"
done
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$layout/oci-layout"
ref=${VERSION//[^A-Za-z0-9_.-]/_}
list=$(IFS=,; echo "${manifests[*]}")
cat >"$tmp/imageindex.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[$list]}
JSON
read -r idig isize < <(blob "$tmp/imageindex.json")
cat >"$layout/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"$idig","size":$isize,"annotations":{"org.opencontainers.image.ref.name":"$ref"}}]}
JSON
mkdir -p "$OUT"
tar -C "$layout" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner --owner=0 --group=0 -cf "$OUT/tbgw-oci.tar" .
echo "image index $idig (tag $ref): $OUT/tbgw-oci.tar $(stat -c %s "$OUT/tbgw-oci.tar") bytes"
