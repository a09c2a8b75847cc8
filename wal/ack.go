package wal

import "time"

// The cursor file follows the acknowledgements in the background: Ack
// records the new position in memory, frees segments and wakes this
// goroutine, which writes the cursor (temp file, fsync, rename, directory
// fsync) with the newest position. Acks arriving during a write share the
// next one, so draining a backlog runs at read speed whatever an fsync
// costs, and a crash loses at most the acknowledgements of one write:
// those records are delivered again, never lost.

// cursorBatchGap is the least time between two cursor writes under
// SyncBatch. Each write is a small file created, fsynced and renamed: at
// everyday rates, writing it ten times a second was most of the gateway's
// flash wear. A crash within the gap only re-sends what was acknowledged
// in it, and cursorMaxBehind bounds that at high rates.
const cursorBatchGap = time.Second

// cursorMaxBehind is the number of acknowledged records after which the
// cursor is written without waiting for the gap.
const cursorMaxBehind = 8192

// cursorLoop persists the cursor: at most every cursorBatchGap (sooner
// when cursorMaxBehind records were acknowledged since the last write)
// under SyncBatch, at most every SyncInterval under SyncInterval, and at
// most every second without fsync under SyncNever. It sleeps while
// nothing is acknowledged.
func (l *Log) cursorLoop() {
	defer close(l.cdone)
	gap := cursorBatchGap
	switch l.opts.Sync {
	case SyncInterval:
		gap = l.opts.SyncInterval
	case SyncNever:
		gap = time.Second
	}
	var last, warned time.Time
	for {
		select {
		case <-l.ackc:
		case <-l.quit:
			return
		}
		if wait := gap - time.Since(last); wait > 0 && !l.cursorBehind() {
			t := time.NewTimer(wait)
		waiting:
			for {
				select {
				case <-t.C:
					break waiting
				case <-l.ackc:
					if l.cursorBehind() {
						t.Stop()
						break waiting
					}
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

// cursorBehind reports whether cursorMaxBehind records were acknowledged
// since the cursor was last written.
func (l *Log) cursorBehind() bool {
	l.ackMu.Lock()
	p := l.persisted
	l.ackMu.Unlock()
	l.mu.Lock()
	a := l.acked
	l.mu.Unlock()
	return a >= p+cursorMaxBehind
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
	if err := writeCursor(l.dir, acked, durable); err != nil {
		return err
	}
	l.persisted = acked
	return nil
}
