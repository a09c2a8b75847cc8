// Package bluetooth is a Bluetooth Low Energy central (and a minimal
// peripheral, for tests and beacons) on the Linux kernel's own Bluetooth
// sockets, through golang.org/x/sys: no BlueZ daemon, no D-Bus, no cgo.
//
//   - Controllers are found, powered and scanned through the management
//     interface (an HCI socket bound to the control channel, which needs
//     CAP_NET_ADMIN). Active scanning is the kernel's discovery; passive
//     scanning (no scan requests) registers an advertisement monitor, with
//     which the kernel scans passively. Advertising reports arrive as mgmt
//     Device Found or Adv Monitor Device Found events.
//   - GATT runs over an L2CAP LE socket on the ATT fixed channel (CID 4);
//     the kernel creates and tears down the LE link. Client implements
//     MTU exchange, service/characteristic/CCCD discovery, read (with
//     read blob), write with and without response, notifications and
//     indications.
//   - Every socket is non-blocking and registered with Go's network
//     poller: a blocked read parks a goroutine, not a thread, and a
//     context ends it through a deadline.
//
// Sharing with bluetoothd: management sockets are not exclusive, so this
// package works next to a running bluetoothd. Settings (power, LE) are
// global to the controller; discovery is one per controller, so when
// bluetoothd is discovering Start Discovery answers "busy" and Scan just
// listens to the reports of that discovery. Advertisement monitors are
// shared (the kernel scans passively while any program has one and
// nobody discovers). ATT connections are per socket,
// but bluetoothd also attaches its own GATT client to every new LE link
// on a controller it manages (and a peripheral's ATT listener is
// exclusive): prefer a controller bluetoothd does not manage.
//
// Non-goals: BR/EDR (classic), pairing and bonding (links run at security
// level low), LE Coded PHY and extended advertising control, long writes.
package bluetooth
