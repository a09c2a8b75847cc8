#!/usr/bin/env bash
# Installs the FTP peers used by the drivers/ftp tests: pyftpdlib (FTP and
# explicit FTPS; its TLS needs python3-openssl), run with Debian's python,
# and vsftpd (LIST-only listings, FTPS with TLS session reuse).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if /usr/bin/python3 -c 'import pyftpdlib, OpenSSL' 2>/dev/null && [ -x /usr/sbin/vsftpd ]; then
	exit 0
fi
need_apt python3-pyftpdlib python3-openssl vsftpd
