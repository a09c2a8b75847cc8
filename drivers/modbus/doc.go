// Package modbus is the Modbus connector ("type": "modbus"): a Modbus
// master polling devices over TCP, UDP, TLS, RTU over TCP, and RTU or ASCII
// on serial lines, writing to them on shared attribute updates and RPCs,
// and optionally a Modbus server (the "slave" section) whose data follows
// ThingsBoard. It reads the upstream gateway's modbus.json unchanged.
//
// # Structure
//
// The factory ([New]) compiles the configuration (config.go, compile.go,
// tags.go, endpoint.go) into devices and the endpoints they use. Devices
// behind one endpoint share a [master]: one connection (a [link]) carrying
// one request at a time, which is what makes a shared RS-485 bus safe.
// Each device polls on its own schedule (device.go) through a read plan
// that coalesces neighbouring tags into few requests (plan.go). Frames,
// function codes and value conversion come from codec/modbus; serial ports
// from go.bug.st/serial (serial.go).
//
// The slave section is served from a sparse in-memory store (store.go,
// server.go) and polled in process like any other device, so ThingsBoard
// sees what masters write and masters see what ThingsBoard writes.
//
// The user documentation is docs/connectors/modbus.md.
package modbus
