#!/usr/bin/env bash
# Build-tag matrix: products drop connectors and database drivers with
# tags, so every combination must build with CGO_ENABLED=0.
#   - drivers/all with each connector alone (-tags custom,drivers.<type>)
#     and with none;
#   - the SQL connector with every subset of its database drivers
#     (odbc.postgres, odbc.mysql, odbc.sqlite, odbc.mssql), and its tests
#     type-checked (go vet) with none, each alone and all;
#   - the default build with the opt-in SQL drivers (odbc.sqlite,
#     odbc.mssql: not in a default build) and on mips, where
#     modernc.org/sqlite has no port;
#   - the binary linked with no connector and with the SQL connector alone.
# Only drivers/all and drivers/odbc have tag-dependent files, so compiling
# them covers every combination; the links prove the main package.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0 PATH=$PATH:/usr/local/go/bin
n=0
run() { # what, command...
  local what=$1; shift
  "$@" || { echo "FAIL: $what"; exit 1; }
  n=$((n + 1))
}
run "-tags custom" go build -tags custom ./drivers/all
for f in drivers/all/*.go; do
  c=$(basename "$f" .go)
  [ "$c" = doc ] && continue
  run "-tags custom,drivers.$c" go build -tags "custom,drivers.$c" ./drivers/all
done
dbs=(postgres mysql sqlite mssql)
for mask in $(seq 0 15); do
  tags=custom,drivers.odbc
  bits=0
  for i in 0 1 2 3; do
    if (( mask & (1 << i) )); then tags+=",odbc.${dbs[$i]}"; bits=$((bits + 1)); fi
  done
  run "-tags $tags" go build -tags "$tags" ./drivers/odbc
  # Tests too (some files are tagged) for none, each alone and all.
  if (( bits <= 1 || bits == 4 )); then
    run "vet -tags $tags" go vet -tags "$tags" ./drivers/odbc
  fi
done
run "default + odbc.sqlite,odbc.mssql" go vet -tags odbc.sqlite,odbc.mssql ./drivers/odbc
run "mips default" env GOARCH=mips GOMIPS=softfloat go vet ./drivers/odbc
run "mips odbc.sqlite,odbc.mssql" env GOARCH=mips GOMIPS=softfloat go vet -tags odbc.sqlite,odbc.mssql ./drivers/odbc
run "mips default drivers/all" env GOARCH=mips GOMIPS=softfloat go build ./drivers/all
run "link -tags custom" go build -o /dev/null -tags custom .
run "link -tags custom,drivers.odbc" go build -o /dev/null -tags custom,drivers.odbc .
run "link -tags odbc.sqlite,odbc.mssql" go build -o /dev/null -tags odbc.sqlite,odbc.mssql .
echo "tags check OK: $n builds"
