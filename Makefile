# tbgw — see README.md.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  = -s -w -X main.version=$(VERSION)
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build demo test bench chaos cross fuzz check clean

all: build

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o tbgw .

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

check: build
	./tbgw check -c etc/tbgw -data "$${TMPDIR:-/tmp}/tbgw-check"

clean:
	rm -rf tbgw dist
