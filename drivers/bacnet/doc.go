// Package bacnet is the BACnet/IP connector: a BACnet client that finds
// the configured devices with Who-Is/I-Am (by address, address wildcard or
// device instance, on the local network, behind routers or through a BBMD
// as a foreign device), reads their properties with ReadPropertyMultiple
// batched to what each device accepts (segmented answers reassembled, a
// batch halved when a device cannot answer it, ReadProperty for devices
// without ReadPropertyMultiple), subscribes to COV where configured and
// falls back to polling, and writes attribute updates and RPCs with
// WriteProperty at a priority. It loads upstream's bacnet.json unchanged;
// docs/connectors/bacnet.md lists what it adds and where it differs.
//
// The protocol itself is codec/bacnet; this package owns the socket, the
// transaction state machine (invoke IDs, retries, segmentation windows),
// discovery, the device registry and the conversion to datapoints.
//
// Non-goals: acting as a BACnet router or BBMD, serving objects other than
// the gateway's own device object, and the alarm and event,
// schedule and trend log services.
package bacnet
