#!/usr/bin/env bash
# Release artifacts into $OUT (default dist/): the static binaries of
# every cross target (scripts/build.sh), the .deb packages
# (scripts/packaging/deb.sh), the container image as an OCI layout
# tarball (scripts/packaging/oci.sh), and SHA256SUMS over all of them
# (verify with `sha256sum -c SHA256SUMS` in that directory).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export OUT=${OUT:-$root/dist}
export VERSION=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
rm -f "$OUT/SHA256SUMS"
bash "$root/scripts/build.sh"
bash "$root/scripts/packaging/deb.sh"
bash "$root/scripts/packaging/oci.sh"
(cd "$OUT" && find . -maxdepth 1 -type f \( -name 'tbgw-linux-*' -o -name '*.deb' -o -name 'tbgw-oci.tar' \) -printf '%f\n' |
	sort | xargs sha256sum >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
echo "$(wc -l <"$OUT/SHA256SUMS") artifacts of $VERSION in $OUT, SHA256SUMS:"
cat "$OUT/SHA256SUMS"
