#!/usr/bin/env bash
# Installs unixODBC with the PostgreSQL ODBC driver and a C compiler for
# the opt-in cgo build of drivers/odbc (tag odbc.cgo), tested by
# scripts/test.sh against the PostgreSQL the tests start themselves.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt unixodbc-dev odbc-postgresql gcc:gcc libc6-dev
