#!/usr/bin/env bash
# Installs MariaDB for the drivers/odbc tests. The tests create their own
# server in a temporary directory on a free port; nothing is started here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null 2>&1; then
	exit 0
fi
need_apt mariadb-server
