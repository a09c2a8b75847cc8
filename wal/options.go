package wal

import (
	"fmt"
	"log/slog"
	"time"
)

// Sync is the durability policy of appends.
type Sync uint8

const (
	// SyncBatch makes Append return only after its records were written and
	// fsynced. Concurrent appends share one write and one fsync (group
	// commit). Nothing acknowledged to a caller is lost on power loss.
	SyncBatch Sync = iota
	// SyncInterval writes at once but fsyncs every Options.SyncInterval.
	// A crash of the process loses nothing; a power cut loses at most the
	// last interval.
	SyncInterval
	// SyncNever leaves flushing to the kernel (typically within 30 s).
	// A crash of the process loses nothing; a power cut loses what the
	// kernel had not yet written back.
	SyncNever
)

// String returns the configuration spelling of s.
func (s Sync) String() string {
	switch s {
	case SyncBatch:
		return "batch"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("Sync(%d)", uint8(s))
}

// ParseSync parses "batch" (or ""), "interval" and "never".
func ParseSync(s string) (Sync, error) {
	switch s {
	case "", "batch":
		return SyncBatch, nil
	case "interval":
		return SyncInterval, nil
	case "never":
		return SyncNever, nil
	}
	return 0, fmt.Errorf("fsync %q: want batch, interval or never", s)
}

// MinSegmentBytes is the smallest segment size Options accept.
const MinSegmentBytes = 4 << 10

// Options configure a Log. The zero value is usable: every zero field takes
// the default shown in DefaultOptions.
type Options struct {
	// MaxBytes bounds the size of all segment files together.
	MaxBytes int64
	// MaxRecords bounds the number of records stored; 0 means no limit
	// other than MaxBytes.
	MaxRecords int64
	// SegmentBytes is the size at which the log starts a new segment. It
	// is the granularity of dropping (acknowledged or overflowing) data
	// and bounds the memory a reader or writer holds.
	SegmentBytes int64
	// MaxRecordBytes bounds one record.
	MaxRecordBytes int
	// Sync is the durability policy; SyncInterval uses SyncInterval.
	Sync         Sync
	SyncInterval time.Duration
	// SyncGap is the least time between two group commits under
	// SyncBatch: appends arriving meanwhile wait and share the next write
	// and fsync, so fsyncs per second stay at most 1/SyncGap at everyday
	// rates (a commit of SyncGapBytes or more goes at once: waiting
	// would only add latency). Negative: no gap.
	SyncGap time.Duration
	// Overflow is the policy when an append does not fit into the limits.
	Overflow Overflow
	// Logger receives repair warnings and slow-fsync notices.
	Logger *slog.Logger
}

// DefaultOptions are the values zero Options fields take.
var DefaultOptions = Options{
	MaxBytes:       64 << 20,              // 64 MiB of segment files
	MaxRecords:     0,                     // no record limit
	SegmentBytes:   1 << 20,               // 1 MiB segments: small RAM, fine-grained drops
	MaxRecordBytes: 256 << 10,             // 256 KiB per record
	Sync:           SyncBatch,             // fsync before Append returns
	SyncInterval:   time.Second,           // for SyncInterval
	SyncGap:        20 * time.Millisecond, // at most 50 fsyncs a second at everyday rates
	Overflow:       DropOldest,            // keep the newest data
	Logger:         nil,                   // discard
}
