#!/usr/bin/env bash
# Builds and vets tbgw with the oldest Go toolchain go.mod's `go`
# directive admits (the Go of the Buildroot, Yocto and OpenWrt releases we
# target), fetched through the module proxy (golang.org/toolchain).
# GO_MIN_TOOLCHAIN overrides it (e.g. go1.25.5). Cheap: no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(awk '$1 == "go" {print $2; exit}' go.mod)
tc=${GO_MIN_TOOLCHAIN:-go$v}
export GOTOOLCHAIN=$tc CGO_ENABLED=0
echo "go directive $v; toolchain $(go version)"
go build ./...
go vet ./...
echo "go-min check OK with $tc"
