#!/usr/bin/env bash
# Installs the FTP peer used by the drivers/ftp tests: pyftpdlib (FTP and
# explicit FTPS; its TLS needs python3-openssl), run with Debian's python.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if /usr/bin/python3 -c 'import pyftpdlib, OpenSSL' 2>/dev/null; then
	exit 0
fi
need_apt python3-pyftpdlib python3-openssl
