// Package all links the connectors into the binary. Each file imports one
// connector behind the build tag drivers.<type>; a build with -tags custom
// includes only the connectors named by their own tags, for example
//
//	go build -tags custom,drivers.modbus,drivers.mqtt
package all
