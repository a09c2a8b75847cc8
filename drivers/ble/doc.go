// Package ble is the "ble" connector: Bluetooth Low Energy devices read
// through the Linux kernel's Bluetooth stack (package drivers/bluetooth),
// configured by upstream's ble.json unchanged.
//
// A scanner runs the controller's discovery for as long as the connector
// runs and keeps the latest advertising report of each address (bounded).
// Each configured device runs on its own goroutine: devices with
// characteristic items are connected (GATT over L2CAP), their "notify"
// characteristics subscribed and their "read" characteristics polled every
// pollPeriod; a lost link is reconnected with upstream's connectRetry,
// connectRetryInSeconds and waitAfterConnectRetries, without touching the
// other devices. Devices with only advertisement items are never
// connected: their manufacturer data (and, as tbgw extensions, service
// data, name, RSSI, TX power) is converted from the scanner's reports.
//
// Values go through upstream's converters: the bytes converter (decimal
// byte values substituted into valueExpression, a string) and the hex
// converter (the selection as a big-endian integer, then "compute" in the
// safe expression language of codec/expr).
//
// Downlink: attributeUpdates write the attribute's text to a
// characteristic; serverSideRpc read/write/scan; reserved get/set with
// characteristicUUID=...;value=...;.
//
// Non-goals: pairing/bonding, BR/EDR devices, custom Python converters.
package ble
