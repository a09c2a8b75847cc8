package wal

import "errors"

// Sentinel errors callers act on. Everything else is wrapped with the
// operation and the path it concerns.
var (
	// ErrClosed is returned by every method once Close was called.
	ErrClosed = errors.New("storage closed")
	// ErrFull is returned by Append under the reject-new overflow policy
	// when the records do not fit into the configured limits.
	ErrFull = errors.New("storage full")
	// ErrTooLarge is returned by Append for a record that could never fit
	// (larger than the byte limit or the maximum record size).
	ErrTooLarge = errors.New("record too large")
	// ErrAckRange is returned by Ack for a sequence number that was never
	// appended.
	ErrAckRange = errors.New("ack beyond last appended record")
)
