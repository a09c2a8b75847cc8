// Package exec is the exec connector (type "exec"): it runs any program
// and speaks a small, versioned JSON-lines protocol with it over the
// program's standard input and output, so that a proprietary protocol can
// be added to tbgw in any language, without a Go toolchain. The protocol
// (version 1) is specified in docs/connectors/exec.md; in short, the
// program writes telemetry, attributes, device connect/disconnect,
// attribute requests, RPC replies and log lines, and reads its
// configuration, acknowledgements, shared attribute updates and RPCs.
//
// The connector supervises the program: it starts it in its own process
// group, logs its standard error, restarts it with back-off when it ends,
// and stops it with a stop message, then SIGTERM, then SIGKILL, reaping
// everything (no zombies). Its output is read only as fast as the event
// storage accepts it: a line that carries a "seq" is acknowledged after it
// was stored, and while the storage is full nothing more is read, so the
// program blocks on its own output and may keep its own retry. Lines are
// bounded in length, queues in size; a bad line is answered with an error
// naming its line number and never stops the connector.
//
// Non-goals: running programs that need a terminal, and passing binary
// data (values are JSON). upstream Python connectors run through this
// connector with the host in extensions/ (see docs/connectors/exec.md).
package exec
