# tbgw — see README.md.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  = -s -w -X main.version=$(VERSION)
# Connector tags (make build TAGS=custom,drivers.modbus) and the product
# tag every build has: nethttpomithttp2 leaves out net/http's HTTP/2,
# which tbgw never speaks (docs/packaging.md; the scripts take it from
# scripts/packaging/lib.sh).
TAGS ?=
GOTAGS = $(if $(TAGS),$(TAGS)$(comma))nethttpomithttp2
comma := ,
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build demo test bench chaos cross fuzz check clean packaging-check release size

all: build

build:
	CGO_ENABLED=0 go build -trimpath -tags "$(GOTAGS)" -ldflags "$(LDFLAGS)" -o tbgw .

# The gateway's main job against a built-in local ThingsBoard stand-in.
demo: build
	go run ./scripts/demo

test:
	bash scripts/test.sh

bench: build
	go run ./scripts/bench

chaos: build
	go run ./scripts/chaos

cross:
	bash scripts/build.sh

fuzz:
	bash scripts/fuzz.sh

# The package builds with each build system's own Go environment and Go
# release (Buildroot 1.26.3, OpenWrt 1.26.7, Yocto 1.25.9), the go.mod
# floor (go-min-check), and the checks make test runs. Slow: toolchains
# are fetched once through the module proxy, each builds the whole tree.
packaging-check:
	bash scripts/peers/packaging.sh
	bash scripts/packaging/buildroot-check.sh
	bash scripts/packaging/openwrt-check.sh
	bash scripts/packaging/yocto-check.sh
	bash scripts/go-min-check.sh
	bash scripts/packaging/deb-check.sh
	bash scripts/packaging/oci-check.sh
	bash scripts/packaging/size-check.sh

# Binaries of every cross target, .deb packages, the OCI image and SHA256SUMS in dist/.
release:
	bash scripts/packaging/release.sh

# Stripped sizes per connector (armv7, mipsle) and where the bytes go.
size:
	bash scripts/packaging/size-check.sh -measure
	bash scripts/packaging/size-check.sh -explain

check: build
	./tbgw check -c etc/tbgw -data "$${TMPDIR:-/tmp}/tbgw-check"

clean:
	rm -rf tbgw dist
