#!/usr/bin/env bash
# Installs PostgreSQL for the drivers/odbc tests. The tests create their
# own cluster in a temporary directory on a free port (as the postgres
# user when run as root); nothing is started here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	exit 0
fi
need_apt postgresql
