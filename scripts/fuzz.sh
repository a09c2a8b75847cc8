#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 10s) each.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    echo "fuzz $pkg $fn"
    go test -run='^$' -fuzz="^$fn\$" -fuzztime="$FUZZTIME" "$pkg" >/dev/null 2>"${TMPDIR:-/tmp}/fuzz.err" || { cat "${TMPDIR:-/tmp}/fuzz.err"; exit 1; }
  done
done
