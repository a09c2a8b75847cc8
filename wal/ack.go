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
// SyncBatch: writing it after every acknowledged batch cost a third of the
// gateway's CPU at 100 000 datapoints/s, while a crash within the gap only
// re-sends what was acknowledged in it.
const cursorBatchGap = 100 * time.Millisecond

// cursorLoop persists the cursor: at most every cursorBatchGap under
// SyncBatch, at most every SyncInterval under SyncInterval, and at most
// every second without fsync under SyncNever.
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
		if wait := gap - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-l.quit:
				t.Stop()
				return
			}
		}
		last = time.Now()
		if err := l.persistCursor(l.opts.Sync != SyncNever); err != nil && time.Since(warned) > time.Minute {
			warned = time.Now()
			l.log.Warn("wal: cannot persist the cursor; retrying with the next acknowledgement", "err", err)
		}
	}
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
