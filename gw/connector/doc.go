// Package connector is the contract between the gateway core and the
// protocol connectors in drivers/.
//
// A connector is built by a [Factory] from its raw configuration file and a
// small [Env], then run by the gateway's supervisor: [Connector.Run] blocks
// until its context is cancelled and pushes converted device data into a
// [Sink]. A connector that also takes commands from ThingsBoard implements
// the optional [AttributeHandler] and [RPCHandler]; one that wants shared
// attributes pushed to it when a device connects implements [SharedKeyser].
//
// Connectors register themselves from an init function with [Register]; the
// drivers/all package selects which ones are compiled in through build tags.
//
// # Data model
//
// [Data] and [Point] are type aliases of plain struct types. Package codec
// declares the identical aliases, so a converter's output is handed to a Sink
// as is, and neither this package nor codec imports the other: both are
// leaves of the import graph.
//
// This package imports nothing from tbgw and must stay that way.
package connector
