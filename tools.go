//go:build tools

// This file pins modules that connectors and tests use, so that `go mod tidy`
// keeps them while the packages that import them are being built. It is never
// compiled into tbgw.
package main

import (
	_ "github.com/dlclark/regexp2"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/gopcua/opcua"
	_ "github.com/gosnmp/gosnmp"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/tidwall/wal"
	_ "go.bug.st/serial"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
)
