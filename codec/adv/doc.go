// Package adv parses Bluetooth LE advertising and scan response data (the
// length-type-value "AD structures" of Core Specification Supplement part
// A): flags, local name, service UUID lists, manufacturer specific data,
// service data and TX power. It also builds such data, for advertisers.
//
// Parse never panics; a malformed structure ends parsing with an error and
// the fields parsed before it are kept.
//
// Non-goals: extended advertising chains, mesh and other AD types, which
// are kept as raw structures.
package adv
