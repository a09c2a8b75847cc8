package storage

import "github.com/tbgw/tbgw/wal"

// Errors shared by every Store; they are the same values package wal
// returns, so errors.Is works whichever store is behind the interface.
var (
	ErrClosed   = wal.ErrClosed   // the store was closed
	ErrFull     = wal.ErrFull     // reject-new policy and no room left
	ErrTooLarge = wal.ErrTooLarge // a record larger than any limit allows
	ErrAckRange = wal.ErrAckRange // Ack of a never appended sequence number
)
