#!/usr/bin/env bash
# Builds Debian packages of tbgw with dpkg-deb (no debhelper needed):
#   scripts/packaging/deb.sh                 amd64 arm64 armhf i386
#   scripts/packaging/deb.sh arm64           only that one
# into $OUT (default dist/). The package: the static binary in /usr/bin,
# the configuration in /etc/tbgw (conffiles, owned by the tbgw user, who
# rewrites it on remote configuration), /etc/default/tbgw, the systemd
# unit of etc/systemd as it is, the tbgw system user (group dialout) and
# /var/lib/tbgw (0700). The unit is enabled, not started: edit
# /etc/tbgw/tb_gateway.json, then `systemctl start tbgw`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$root/dist}
VERSION=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
# Build tags: all connectors and, as PCs and containers have the room, the
# opt-in SQL drivers (SQLite, SQL Server) too; and the product tags
# (scripts/packaging/lib.sh).
. "$root/scripts/packaging/lib.sh"
TAGS=$(product_tags "${TAGS-odbc.sqlite,odbc.mssql}")
# A Debian version starts with a digit: v1.2.3 -> 1.2.3, a commit -> 0~git<commit>.
debver=${VERSION#v}
[[ $debver =~ ^[0-9] ]] || debver="0~git${debver}"
debver=${debver//-/+}
# Reproducible: file times clamped to the commit's time.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
mkdir -p "$OUT"
archs=("$@")
[ ${#archs[@]} -eq 0 ] && archs=(amd64 arm64 armhf i386)
for arch in "${archs[@]}"; do
	case $arch in
	amd64) goenv=(GOARCH=amd64) ;;
	arm64) goenv=(GOARCH=arm64) ;;
	armhf) goenv=(GOARCH=arm GOARM=7) ;;
	armel) goenv=(GOARCH=arm GOARM=5) ;;
	i386) goenv=(GOARCH=386) ;;
	riscv64) goenv=(GOARCH=riscv64) ;;
	*) echo "unknown Debian architecture $arch" >&2; exit 2 ;;
	esac
	tmp=$(mktemp -d)
	pkg="$tmp/pkg"
	install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/etc/tbgw" "$pkg/etc/default" \
		"$pkg/usr/lib/systemd/system" "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d" \
		"$pkg/usr/share/doc/tbgw"
	(cd "$root" && env CGO_ENABLED=0 GOOS=linux "${goenv[@]}" go build -trimpath -buildvcs=false -tags "$TAGS" \
		-ldflags "-s -w -X main.version=$VERSION" -o "$pkg/usr/bin/tbgw" .)
	install -m 0640 "$root/etc/tbgw/tb_gateway.json" "$root/etc/tbgw/simulator.json" "$pkg/etc/tbgw/"
	install -m 0644 "$root/etc/default/tbgw" "$pkg/etc/default/tbgw"
	install -m 0644 "$root/etc/systemd/tbgw.service" "$pkg/usr/lib/systemd/system/tbgw.service"
	cat >"$pkg/usr/lib/sysusers.d/tbgw.conf" <<'SU'
u tbgw - "tbgw gateway" /var/lib/tbgw /usr/sbin/nologin
m tbgw dialout
SU
	echo 'd /var/lib/tbgw 0700 tbgw tbgw -' >"$pkg/usr/lib/tmpfiles.d/tbgw.conf"
	{
		echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
		echo "Upstream-Name: tbgw"
		echo "Source: https://github.com/tbgw/tbgw"
		echo
		echo "Files: *"
		echo "License: Apache-2.0"
		echo " On Debian systems, the full text of the Apache License 2.0 is in"
		echo " /usr/share/common-licenses/Apache-2.0."
	} >"$pkg/usr/share/doc/tbgw/copyright"
	printf '%s\n' /etc/tbgw/tb_gateway.json /etc/tbgw/simulator.json /etc/default/tbgw >"$pkg/DEBIAN/conffiles"
	size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
	cat >"$pkg/DEBIAN/control" <<CTL
Package: tbgw
Version: $debver
Architecture: $arch
Maintainer: tbgw developers <tbgw@users.noreply.github.com>
Installed-Size: $size
Depends: ca-certificates, passwd
Section: net
Priority: optional
Homepage: https://github.com/tbgw/tbgw
Description: ThingsBoard IoT Gateway in Go
 tbgw connects field devices (Modbus, MQTT, OPC UA, SNMP, BACnet, serial,
 CAN, BLE and more) to ThingsBoard. One static binary; configuration in
 /etc/tbgw (upstream tb_gateway.json files load unchanged), state in
 /var/lib/tbgw, run by systemd as the tbgw user.
CTL
	cat >"$pkg/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	getent group tbgw >/dev/null || groupadd --system tbgw
	getent passwd tbgw >/dev/null || useradd --system --gid tbgw --home-dir /var/lib/tbgw \
		--no-create-home --shell /usr/sbin/nologin --comment "tbgw gateway" tbgw
	if getent group dialout >/dev/null; then usermod -a -G dialout tbgw; fi
	mkdir -p /var/lib/tbgw
	chown tbgw:tbgw /var/lib/tbgw /etc/tbgw /etc/tbgw/tb_gateway.json /etc/tbgw/simulator.json
	chmod 0700 /var/lib/tbgw
	chmod 0750 /etc/tbgw
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper unmask tbgw.service >/dev/null || true
		if deb-systemd-helper --quiet was-enabled tbgw.service; then
			deb-systemd-helper enable tbgw.service >/dev/null || true
		else
			deb-systemd-helper update-state tbgw.service >/dev/null || true
		fi
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# An upgrade restarts a running gateway; a first install waits
		# for its configuration.
		if [ -n "$2" ]; then
			deb-systemd-invoke try-restart tbgw.service >/dev/null || true
		else
			echo "tbgw: edit /etc/tbgw/tb_gateway.json, then: systemctl enable --now tbgw"
		fi
	fi
fi
exit 0
SH
	cat >"$pkg/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	deb-systemd-invoke stop tbgw.service >/dev/null || true
fi
exit 0
SH
	cat >"$pkg/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
	# State (stored telemetry, device registry) goes with the purge; the
	# tbgw user stays, as Debian keeps system users.
	rm -rf /var/lib/tbgw
	rmdir /etc/tbgw 2>/dev/null || true
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge tbgw.service >/dev/null || true
	fi
fi
exit 0
SH
	chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"
	(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum |
		sed 's# \./# #' >DEBIAN/md5sums)
	deb="$OUT/tbgw_${debver}_${arch}.deb"
	dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
	printf '%-8s %10d  %s\n' "$arch" "$(stat -c %s "$deb")" "$deb"
	rm -rf "$tmp"
done
