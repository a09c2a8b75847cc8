#!/usr/bin/env bash
# Tools of the packaging checks (scripts/packaging/*-check.sh): rsync
# (Buildroot's source copy), umoci and skopeo (reading the OCI image),
# python3 (evaluating the Yocto recipe's inline python), dpkg-deb.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_apt rsync:rsync umoci:umoci skopeo:skopeo python3:python3 dpkg:dpkg-deb
