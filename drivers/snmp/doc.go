// Package snmp is the SNMP connector ("type": "snmp"): an SNMP manager that
// polls agents (v1, v2c, v3 USM), writes to them on attribute updates and
// RPCs, and receives their traps and informs.
//
// See docs/connectors/snmp.md for the configuration.
package snmp
