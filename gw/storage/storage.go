// Package storage is the event storage between the connectors and the
// uplink loop: the interface the gateway core consumes, the bounded memory
// store, the adapter over the write-ahead log in package wal, and the
// mapping of upstream "storage" configuration blocks onto them.
package storage

import "context"

// Store holds encoded events (opaque records) from the moment a connector's
// data is accepted until ThingsBoard acknowledged it.
//
// Records get consecutive sequence numbers. Next hands out records after the
// last one it handed out, so several batches can be in flight; Ack(seq)
// makes everything up to seq delivered for good; Rewind starts handing out
// again right after the last acknowledged record (used after a lost
// connection). All methods are safe for concurrent use.
type Store interface {
	// Append stores recs in order and returns once they are durable under
	// the store's sync policy. Concurrent appends are group-committed.
	Append(recs [][]byte) error
	// Next blocks until at least one record is available or ctx is done,
	// then returns up to max records totalling at most maxBytes (always at
	// least one record). The returned slices stay valid until the records
	// are acknowledged.
	Next(ctx context.Context, max, maxBytes int) (Batch, error)
	// Ack marks every record with a sequence number <= seq delivered.
	Ack(seq uint64) error
	// Rewind makes the next Next start right after the last acked record.
	Rewind()
	// Stats returns the counters.
	Stats() Stats
	// Close flushes and releases the store; it is idempotent.
	Close() error
}

// Batch is a run of consecutive records.
type Batch struct {
	First   uint64   // sequence number of Records[0]
	Records [][]byte // Records[i] has sequence number First+i
}

// Last is the sequence number of the last record of the batch.
func (b Batch) Last() uint64 { return b.First + uint64(len(b.Records)) - 1 }

// Stats are the storage counters reported in the gateway statistics.
type Stats struct {
	Appended uint64 // records accepted since start
	Acked    uint64 // records acknowledged since start
	Dropped  uint64 // records dropped by the overflow policy or rejected
	Corrupt  uint64 // records or tails found damaged and skipped/repaired
	Pending  uint64 // records stored and not yet acknowledged
	Bytes    int64  // bytes held (on disk or in memory)
}
