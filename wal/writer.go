package wal

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// request is one Append call waiting for its commit.
type request struct {
	recs [][]byte
	size int64 // bytes the records take in a segment file
	done chan error
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan error, 1)} }}

// Limits of one group commit.
const (
	commitRequests = 256
	commitBytes    = 4 << 20
)

// SyncGapBytes is the queued size from which a group commit does not wait
// for Options.SyncGap.
const SyncGapBytes = 64 << 10

// Append stores recs as consecutive records and returns once they are
// written (and, under SyncBatch, fsynced). Appends from concurrent callers
// are written together with one write and one fsync. A failed Append
// leaves none of its records readable; one interrupted by a crash may leave
// a prefix of them.
//
// Group commit is leader/follower: an Append queues its records and takes
// the writer lock; if an earlier leader already wrote them it returns,
// otherwise it becomes the leader and writes everything queued. A single
// appender thus writes from its own goroutine, with no hand-off.
func (l *Log) Append(recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	var size int64
	for _, r := range recs {
		if len(r) > l.opts.MaxRecordBytes {
			return fmt.Errorf("wal append: %d-byte record, at most %d: %w", len(r), l.opts.MaxRecordBytes, ErrTooLarge)
		}
		size += entrySize(frameSize(len(r)))
	}
	if size > l.opts.MaxBytes/2 || l.opts.MaxRecords > 0 && int64(len(recs)) > l.opts.MaxRecords {
		return fmt.Errorf("wal append: %d records of %d bytes exceed the limits: %w", len(recs), size, ErrTooLarge)
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closing {
		return ErrClosed
	}
	r := requestPool.Get().(*request)
	r.recs, r.size = recs, size
	l.qmu.Lock()
	l.queue = append(l.queue, r)
	l.qmu.Unlock()

	l.wmu.Lock()
	select {
	case err := <-r.done: // written by the previous leader
		l.wmu.Unlock()
		r.recs = nil
		requestPool.Put(r)
		return err
	default:
	}
	for {
		l.linger()
		batch := l.take()
		l.commit(batch)
		if slices.Contains(batch, r) {
			break
		}
	}
	l.wmu.Unlock()
	err := <-r.done
	r.recs = nil
	requestPool.Put(r)
	return err
}

// linger makes the commit leader wait out the rest of SyncGap since the
// last fsync, so that appends arriving meanwhile share the next one.
// Called with wmu held.
func (l *Log) linger() {
	if l.opts.Sync != SyncBatch || l.opts.SyncGap <= 0 || l.lastSync.IsZero() {
		return
	}
	wait := l.opts.SyncGap - time.Since(l.lastSync)
	if wait <= 0 {
		return
	}
	l.qmu.Lock()
	var queued int64
	for _, r := range l.queue {
		queued += r.size
	}
	l.qmu.Unlock()
	if queued >= SyncGapBytes {
		return
	}
	time.Sleep(wait)
}

// take removes the queued requests of one commit from the queue.
func (l *Log) take() []*request {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	n, size := 0, int64(0)
	for n < len(l.queue) && n < commitRequests && (n == 0 || size < commitBytes) {
		size += l.queue[n].size
		n++
	}
	l.batch = append(l.batch[:0], l.queue[:n]...)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	return l.batch
}

// spareMaker keeps one spare segment directory ready for roll.
func (l *Log) spareMaker() {
	defer close(l.sdone)
	var warned time.Time
	for {
		sp, err := makeSpare(l.dir)
		if err != nil {
			if time.Since(warned) > time.Minute {
				warned = time.Now()
				l.log.Warn("wal: cannot prepare the next segment", "err", err)
			}
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
				continue
			case <-l.quit:
				t.Stop()
				return
			}
		}
		select {
		case l.spares <- sp:
		case <-l.quit:
			os.RemoveAll(sp)
			return
		}
	}
}

// syncer fsyncs under SyncInterval.
func (l *Log) syncer() {
	defer close(l.done)
	if l.opts.Sync != SyncInterval {
		<-l.quit
		return
	}
	t := time.NewTicker(l.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.wmu.Lock()
			l.background()
			l.wmu.Unlock()
		case <-l.quit:
			return
		}
	}
}

// commit places every request and writes them.
func (l *Log) commit(reqs []*request) {
	for _, r := range reqs {
		if err := l.place(r); err != nil {
			r.done <- err
		}
	}
	l.flush()
}

// headerEntry is the size of a segment header in its file.
var headerEntry = entrySize(headerLen)

func (l *Log) needRoll(size int64) bool {
	t := l.tail
	return t == nil || t.count+l.pCount > 0 && t.bytes+l.pBytes+size > l.opts.SegmentBytes
}

// place makes room for r under the limits and adds its records to the
// pending write.
func (l *Log) place(r *request) error {
	n := uint64(len(r.recs))
	size := r.size
	if l.needRoll(r.size) {
		size += headerEntry
	}
	if err := l.makeRoom(n, size); err != nil {
		return err
	}
	if l.needRoll(r.size) {
		l.flush()
		if err := l.roll(); err != nil {
			return fmt.Errorf("wal append: %w", err)
		}
	}
	t := l.tail
	if t.fresh && t.count+l.pCount == 0 {
		// A segment made from a spare gets its header with its first records.
		l.wb.Write(1, appendHeader(nil, header{version: FormatVersion, first: t.first}))
		l.pBytes += headerEntry
	}
	idx := t.count + l.pCount + 2 // tidwall index; entry 1 is the header
	for _, rec := range r.recs {
		l.wframe = appendFrame(l.wframe[:0], l.wnext, rec)
		l.wb.Write(idx, l.wframe)
		idx++
		l.wnext++
	}
	l.pCount += n
	l.pBytes += r.size
	l.inBatch = append(l.inBatch, r)
	return nil
}

// flush writes the pending records and, under SyncBatch, fsyncs them, then
// makes them visible to readers and answers their Append calls.
func (l *Log) flush() {
	if l.pCount == 0 {
		return
	}
	t := l.tail
	err := t.tl.WriteBatch(&l.wb)
	if err == nil && l.opts.Sync == SyncBatch {
		err = datasync(t.fd, &l.quickSync)
		l.lastSync = time.Now()
	}
	if err != nil {
		err = fmt.Errorf("wal append to %s: %w", t.dir, err)
		l.wnext -= l.pCount
		l.recover(t)
	} else {
		l.mu.Lock()
		t.count += l.pCount
		t.bytes += l.pBytes
		t.fresh = false
		l.bytes += l.pBytes
		l.last = l.wnext - 1
		l.st.Appended += l.pCount
		l.commits++
		l.broadcastLocked()
		l.mu.Unlock()
		l.dirty = l.opts.Sync == SyncInterval
	}
	for _, r := range l.inBatch {
		r.done <- err
	}
	clear(l.inBatch)
	l.inBatch = l.inBatch[:0]
	l.wb.Clear()
	l.pCount, l.pBytes = 0, 0
}

// recover brings the tail back to its last good state after a failed write
// or fsync: tidwall's in-memory state is unusable then, and the file may
// hold part of the failed write. The tail is cut back to the records
// already accepted and reopened; if that fails, the next append starts a
// new segment.
func (l *Log) recover(t *segment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := t.closeTail(); err != nil {
		l.log.Warn("wal: closing segment after a failed write", "err", err)
	}
	err := truncateSync(t.file(), t.bytes)
	if err == nil {
		err = t.openTail(t.count)
	}
	if err != nil {
		l.log.Warn("wal: segment cannot be reopened after a failed write", "err", err)
		t.closeTail()
		l.tail = nil
	}
}

// roll seals the tail and starts a new segment at wnext.
func (l *Log) roll() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	// An empty sealed segment at the same position (left by a failed
	// reopen) would block the new one's name.
	l.mu.Lock()
	if n := len(l.segs); n > 0 && l.segs[n-1] != l.tail && l.segs[n-1].first == l.wnext {
		s := l.segs[n-1]
		l.segs = l.segs[:n-1]
		l.bytes -= s.bytes
		l.mu.Unlock()
		if err := removeSegment(s); err != nil {
			return err
		}
	} else {
		l.mu.Unlock()
	}
	var seg *segment
	var err error
	select {
	case sp := <-l.spares:
		seg, err = activateSpare(l.dir, sp, l.wnext)
	default:
		seg, err = createSegment(l.dir, l.wnext)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.tail
	l.segs = append(l.segs, seg)
	l.tail = seg
	l.bytes += seg.bytes
	gone := l.dropAckedLocked()
	l.mu.Unlock()
	if old != nil {
		if err := old.closeTail(); err != nil {
			l.log.Warn("wal: sealing segment", "segment", old.dir, "err", err)
		}
	}
	l.removeSegs(gone)
	return nil
}

// makeRoom applies the overflow policy so that n more records taking size
// bytes fit into the limits.
func (l *Log) makeRoom(n uint64, size int64) error {
	triedRoll := false
	for {
		l.mu.Lock()
		from := max(l.acked, l.firstStoredLocked()-1)
		pending := uint64(0)
		if l.wnext-1 > from {
			pending = l.wnext - 1 - from
		}
		over := l.opts.MaxRecords > 0 && pending+n > uint64(l.opts.MaxRecords) ||
			l.bytes+l.pBytes+size > l.opts.MaxBytes
		tailAcked := l.tail != nil && l.tail.count > 0 && l.pCount == 0 &&
			l.tail.first+l.tail.count-1 <= l.acked
		nsegs := len(l.segs)
		oldestIsTail := nsegs > 0 && l.segs[0] == l.tail
		l.mu.Unlock()
		if !over {
			return nil
		}
		switch {
		case tailAcked && !triedRoll:
			// Sealing a fully acknowledged tail frees it.
			triedRoll = true
			if err := l.roll(); err != nil {
				return fmt.Errorf("wal append: %w", err)
			}
		case l.opts.Overflow == RejectNew:
			l.mu.Lock()
			l.st.Dropped += n
			l.mu.Unlock()
			return fmt.Errorf("wal append: %d records pending, %d bytes stored: %w", pending, l.bytes, ErrFull)
		case nsegs > 0 && !oldestIsTail:
			l.dropOldest()
		case l.tail != nil && l.tail.count+l.pCount > 0:
			l.flush()
			if err := l.roll(); err != nil {
				return fmt.Errorf("wal append: %w", err)
			}
		default:
			return nil // nothing left to drop; Append checked the request fits
		}
	}
}

// dropOldest removes the oldest segment, counting its unacknowledged
// records as dropped.
func (l *Log) dropOldest() {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	s := l.segs[0]
	end := l.segEndLocked(0)
	var lost uint64
	if from := max(s.first, l.acked+1); end >= from {
		lost = end - from + 1
	}
	l.st.Dropped += lost
	l.segs = l.segs[1:]
	l.bytes -= s.bytes
	l.read = max(l.read, l.firstStoredLocked())
	total := l.st.Dropped
	l.mu.Unlock()
	if err := removeSegment(s); err != nil {
		l.log.Warn("wal: cannot remove segment", "err", err)
	}
	if now := time.Now(); lost > 0 && now.Sub(l.dropLog) > time.Minute {
		l.dropLog = now
		l.log.Warn("wal: storage full, oldest records dropped", "dropped", lost, "dropped_total", total)
	}
}

// background runs on the SyncInterval tick: fsync what was written.
func (l *Log) background() {
	if l.dirty && l.tail != nil {
		if err := datasync(l.tail.fd, &l.quickSync); err != nil {
			l.log.Warn("wal: fsync", "err", err)
		}
		l.dirty = false
	}
}

// finish closes the tail on Close.
func (l *Log) finish() {
	if l.tail != nil {
		l.finalErr = l.tail.closeTail() // fsyncs
	}
}
