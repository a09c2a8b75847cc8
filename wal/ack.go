package wal

import "time"

// The cursor file follows the acknowledgements in the background: Ack
// records the new position in memory, frees segments and wakes this
// goroutine, which writes the cursor (in place, one fdatasync: see
// cursor.go) with the newest position. Acks arriving during a write share the
// next one, so draining a backlog runs at read speed whatever an fsync
// costs, and a crash loses at most the acknowledgements of one write:
// those records are delivered again, never lost.

// cursorBatchGap is the least time between two cursor writes under
// SyncBatch while fewer than cursorSlowBehind records wait for one, and
// cursorFastGap while more do. Each write is a block written and
// fdatasynced: at everyday rates it was most of the gateway's flash
// writes and wake-ups once data arrived a few times a second. A
// crash only re-sends what was acknowledged since the last write: at
// most cursorSlowBehind records or cursorFastGap's worth, and never more
// than cursorMaxBehind.
const (
	cursorBatchGap   = 5 * time.Second
	cursorFastGap    = time.Second
	cursorSlowBehind = 1024
)

// cursorMaxBehind is the number of acknowledged records after which the
// cursor is written without waiting for the gap.
const cursorMaxBehind = 8192

// cursorLoop persists the cursor: under SyncBatch at most every
// cursorBatchGap, or cursorFastGap once cursorSlowBehind records wait,
// or at once when cursorMaxBehind do; at most every SyncInterval under
// SyncInterval, and at most every second without fsync under SyncNever.
// It sleeps while nothing is acknowledged.
func (l *Log) cursorLoop() {
	defer close(l.cdone)
	gap := func(behind uint64) time.Duration {
		switch {
		case l.opts.Sync == SyncInterval:
			return l.opts.SyncInterval
		case l.opts.Sync == SyncNever:
			return time.Second
		case behind >= cursorMaxBehind:
			return 0
		case behind >= cursorSlowBehind:
			return cursorFastGap
		}
		return cursorBatchGap
	}
	var last, warned time.Time
	for {
		select {
		case <-l.ackc:
		case <-l.quit:
			return
		}
		if wait := gap(l.cursorBehind()) - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
		waiting:
			for {
				select {
				case <-t.C:
					break waiting
				case <-l.ackc:
					wait := gap(l.cursorBehind()) - time.Since(last)
					if wait <= 0 {
						t.Stop()
						break waiting
					}
					t.Reset(wait)
				case <-l.quit:
					t.Stop()
					return
				}
			}
		}
		last = time.Now()
		if err := l.persistCursor(l.opts.Sync != SyncNever); err != nil && time.Since(warned) > time.Minute {
			warned = time.Now()
			l.log.Warn("wal: cannot persist the cursor; retrying with the next acknowledgement", "err", err)
		}
	}
}

// cursorBehind is the number of records acknowledged since the cursor
// was last written.
func (l *Log) cursorBehind() uint64 {
	l.ackMu.Lock()
	p := l.persisted
	l.ackMu.Unlock()
	l.mu.Lock()
	a := l.acked
	l.mu.Unlock()
	if a <= p {
		return 0
	}
	return a - p
}

// persistCursor writes the acknowledged position if it moved. Callers
// queue on ackMu; each write takes the newest acknowledgement.
func (l *Log) persistCursor(durable bool) error {
	l.ackMu.Lock()
	defer l.ackMu.Unlock()
	l.mu.Lock()
	acked := l.acked
	l.mu.Unlock()
	if acked <= l.persisted {
		return nil
	}
	if err := l.cur.write(l.dir, acked, durable); err != nil {
		return err
	}
	l.persisted = acked
	return nil
}
