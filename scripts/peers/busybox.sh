#!/usr/bin/env bash
# Installs BusyBox (static build) for the init script test: its sh,
# start-stop-daemon and logger run etc/init.d/S95tbgw as on a BusyBox
# system. systemd-analyze (package systemd) checks the systemd unit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt busybox-static:busybox systemd:systemd-analyze
