// Package ftp is the FTP connector ("type": "ftp"): it polls files on an
// FTP or FTPS server, turns their lines (CSV and TXT) or
// objects (JSON) into telemetry and attributes, and writes files on shared
// attribute updates and RPCs. It reads upstream's ftp.json unchanged, in
// the current ("parameters", "requestsMapping") and the old flat form;
// docs/connectors/ftp.md is the configuration reference.
//
// # Reading
//
// One goroutine (Run) owns one control connection, opened on the first
// poll, checked with NOOP before every round and re-opened with a
// back-off (kit/backoff, 1 s doubling to 1 min) after a failure. Each "paths" entry is listed every pollPeriod:
// directory segments and the file name may be glob patterns (path.Match).
// FULL reads a file again whole when its size or modification time
// changed; PARTIAL reads only complete lines appended since the last read,
// from a byte offset (REST) persisted with the TABLE header in the data
// directory (ftp-state.json, 0600, replaced atomically after every batch
// the event storage accepted). A file that shrank is read from the start.
// Lines are streamed, batched 500 per Send; a refusal by the storage stops
// the read where it is and the next poll continues there.
//
// # Writing
//
// Attribute updates and RPCs open a control connection of their own, so
// they never wait for a poll.
//
// A path's custom converter (a Go converter from the codec registry, or an
// upstream-style Python class run by the extension host through
// codec.CallUplink) replaces its datapoints; reading stays the same.
//
// FTPS is explicit (AUTH TLS, upstream's TLSSupport) or, with the tbgw key
// tls.implicit, implicit (TLS from the first byte, port 990).
//
// Non-goals: active mode (PORT; upstream never uses it and the library
// has none), FTP servers that list no file sizes.
package ftp
