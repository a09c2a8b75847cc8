#!/usr/bin/env bash
# The test suite: installs the real protocol peers, vets, runs every test
# (peers required), fuzzes each fuzz target briefly, and runs a foreign-arch
# smoke test under qemu-user. This is what `make test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
export TBGW_CACHE=${TBGW_CACHE:-$PWD/.cache}
export TBGW_REQUIRE_PEERS=${TBGW_REQUIRE_PEERS:-1}
export PATH=$PATH:/usr/local/go/bin

bash scripts/peers.sh

echo "== gofmt / vet"
bad=$(gofmt -l $(git ls-files '*.go'))
[ -z "$bad" ] || { echo "gofmt needed: $bad"; exit 1; }
go vet ./...

echo "== build (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -o /dev/null .

echo "== tests"
status=0
go test -count=1 -timeout 30m ./... >"$TBGW_CACHE/test.log" 2>&1 || status=$?
# Package lines, and the details of any failure.
grep -E '^(ok|FAIL|---|panic:|\?)' "$TBGW_CACHE/test.log" | grep -v '^--- PASS' || true
if [ "$status" -ne 0 ]; then
  echo "tests failed (exit $status); details:"
  grep -v 'level=DEBUG' "$TBGW_CACHE/test.log" | grep -B2 -A40 -E '^(--- FAIL|panic:)' | head -400 || true
  exit "$status"
fi

echo "== fuzz (short)"
FUZZTIME=${FUZZTIME:-5s} bash scripts/fuzz.sh

echo "== foreign-arch smoke test (arm64 under qemu-user)"
CGO_ENABLED=0 GOARCH=arm64 go test -count=1 -exec qemu-aarch64-static ./codec/tbjson ./codec/conf ./gw/report

passed=$(grep -c '^ok ' "$TBGW_CACHE/test.log" || true)
failed=$(grep -c '^FAIL' "$TBGW_CACHE/test.log" || true)
echo "packages: $passed passed, $failed failed"
