// Package rig is the test rig behind scripts/bench and scripts/chaos: it
// runs the real tbgw binary as a child process between a device-side MQTT
// broker (mosquitto) fed by a load generator and a ThingsBoard stand-in
// (an embedded broker that plays ThingsBoard), and accounts for every
// message.
//
// # What is counted
//
// Every generated message carries its device's sequence number and its
// send time. The Ledger keeps, per device, which sequence numbers were
// published, which the device broker acknowledged (QoS 1 PUBACK: from then
// on the message is the gateway's responsibility) and which reached
// ThingsBoard, how often, and under which timestamp. Loss is an
// acknowledged message that never reached ThingsBoard; a duplicate is a
// second delivery of the same sequence number; an overwrite is two
// sequence numbers of one device delivered with the same timestamp (real
// ThingsBoard keeps only one of them).
//
// # Processes
//
// The gateway and mosquitto run in their own process groups and are killed
// with them on every exit path; Sampler reads a process's CPU time and
// resident memory from /proc once a second. Ports are random 127.0.0.1
// ports. Nothing here sleeps for a fixed time where a condition can be
// awaited; every wait has a deadline.
package rig
