package wal

import (
	"context"
	"errors"
	"fmt"
	"slices"

	twal "github.com/tidwall/wal"
)

// Next waits until a record past the last handed-out one is available (or
// ctx is done, or the log is closed) and returns up to maxRecs consecutive
// records totalling at most maxBytes, always at least one. Damaged records
// are skipped and counted; a batch never spans one. The records are copies
// in one buffer per batch, valid for as long as the caller holds them.
func (l *Log) Next(ctx context.Context, maxRecs, maxBytes int) (Batch, error) {
	return l.next(ctx, maxRecs, maxBytes, true)
}

// next is Next; without wait it returns an empty batch instead of waiting.
func (l *Log) next(ctx context.Context, maxRecs, maxBytes int, wait bool) (Batch, error) {
	if maxRecs <= 0 {
		maxRecs = 1
	}
	select {
	case l.rsem <- struct{}{}:
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	}
	defer func() { <-l.rsem }()
	for {
		l.mu.Lock()
		for !l.closed && l.read > l.last {
			if !wait {
				l.mu.Unlock()
				return Batch{}, nil
			}
			wake := l.wake
			l.mu.Unlock()
			select {
			case <-ctx.Done():
				return Batch{}, ctx.Err()
			case <-wake:
			}
			l.mu.Lock()
		}
		if l.closed {
			l.mu.Unlock()
			return Batch{}, ErrClosed
		}
		l.read = max(l.read, l.firstStoredLocked())
		i := l.segIndexLocked(l.read)
		seg, end, from, gen := l.segs[i], min(l.segEndLocked(i), l.last), l.read, l.rgen
		if seg == l.tail {
			b, next, skipped := collect(seg.tl, seg.first, from, end, maxRecs, maxBytes)
			l.read = next
			l.countDamagedLocked(skipped)
			l.mu.Unlock()
			l.closeReaderLog() // the reader has caught up: the sealed segment is done
			if len(b.Records) > 0 {
				return b, nil
			}
			continue
		}
		l.mu.Unlock()

		tl, err := l.readerLog(seg)
		if errors.Is(err, errGone) {
			continue
		}
		var b Batch
		next := end + 1
		var skipped []span
		if err != nil {
			if !errors.Is(err, errUnreadable) {
				l.log.Warn("wal: unreadable segment skipped", "segment", seg.dir, "err", err)
			}
			skipped = []span{{from, end}}
		} else {
			b, next, skipped = collect(tl, seg.first, from, end, maxRecs, maxBytes)
		}
		l.mu.Lock()
		if l.rgen == gen && l.read == from {
			l.read = next
		}
		l.countDamagedLocked(skipped)
		l.mu.Unlock()
		if len(b.Records) > 0 {
			return b, nil
		}
	}
}

// span is an inclusive range of sequence numbers.
type span struct{ from, to uint64 }

// countDamagedLocked counts skipped positions not counted before.
func (l *Log) countDamagedLocked(skipped []span) {
	for _, s := range skipped {
		from := max(s.from, l.damaged+1)
		if s.to >= from {
			l.st.Corrupt += s.to - from + 1
			l.damaged = s.to
		}
	}
}

// collect reads records from..end of the segment starting at first from
// tl. It stops before a damaged record once it has one, and skips damaged
// records before that. It returns the sequence number to continue at.
func collect(tl *twal.Log, first, from, end uint64, maxRecs, maxBytes int) (b Batch, next uint64, skipped []span) {
	lastIdx, err := tl.LastIndex()
	if err != nil {
		return b, end + 1, []span{{from, end}}
	}
	b.Records = make([][]byte, 0, min(uint64(maxRecs), end-from+1))
	n := 0
	s := from
	for ; s <= end && len(b.Records) < maxRecs; s++ {
		idx := s - first + 2
		if idx > lastIdx {
			// The segment ends early (cut off by a repair).
			if len(b.Records) > 0 {
				break
			}
			skipped = append(skipped, span{s, end})
			s = end
			continue
		}
		data, err := tl.Read(idx)
		var rec []byte
		if err == nil {
			rec, err = checkFrame(data, s)
		}
		if err != nil {
			if len(b.Records) > 0 {
				break
			}
			skipped = append(skipped, span{s, s})
			continue
		}
		if len(b.Records) > 0 && n+len(rec) > maxBytes {
			break
		}
		if len(b.Records) == 0 {
			b.First = s
		}
		b.Records = append(b.Records, rec)
		n += len(rec)
	}
	b.Records = detach(b.Records, n)
	return b, s, skipped
}

// detach copies records (n bytes together) into one buffer of their own.
// tidwall reads without copying, so a record is a slice of the segment's
// entries buffer: the tail segment's grows by reallocation, and every
// record still held (by the uplink's batches in flight) would keep a whole
// former generation of it alive, up to a segment's size each.
func detach(records [][]byte, n int) [][]byte {
	if len(records) == 0 {
		return records
	}
	buf := make([]byte, 0, n)
	for i, r := range records {
		buf = append(buf, r...)
		records[i] = buf[len(buf)-len(r) : len(buf) : len(buf)]
	}
	return records
}

var (
	errGone       = errors.New("segment removed")
	errUnreadable = errors.New("segment set aside earlier")
)

// closeReaderLog closes the sealed segment open for reading, if any: tidwall
// holds all of its bytes in memory. The caller holds rsem.
func (l *Log) closeReaderLog() {
	if l.rlog != nil {
		l.rlog.Close()
		l.rlog, l.rseg = nil, nil
	}
}

// readerLog returns the sealed segment seg opened for reading, repairing it
// first if tidwall cannot parse it.
func (l *Log) readerLog(seg *segment) (*twal.Log, error) {
	if l.rseg == seg && l.rlog != nil {
		return l.rlog, nil
	}
	l.closeReaderLog()
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	present := seg != l.tail && slices.Contains(l.segs, seg)
	gone := seg.gone
	l.mu.Unlock()
	if !present {
		return nil, errGone
	}
	if gone {
		return nil, errUnreadable
	}
	tl, err := openChecked(seg)
	if errors.Is(err, errNewer) {
		if serr := seg.setAside(l.dir, err); serr != nil {
			err = serr
		}
		l.forget(seg)
		return nil, err // written by a later release: cannot read
	}
	if err != nil {
		// tidwall cannot parse it, or its header is damaged: repair once,
		// counted once, then read what is intact.
		p, rerr := seg.repair(l.dir)
		if rerr != nil {
			l.forget(seg)
			return nil, rerr
		}
		l.mu.Lock()
		l.bytes += int64(p.size) - seg.bytes
		seg.bytes = int64(p.size)
		l.st.Corrupt++
		l.mu.Unlock()
		l.log.Warn("wal: damaged segment repaired, damaged bytes kept in "+brokenDir,
			"segment", seg.dir, "err", err, "offset", p.cut, "records", p.records, "damaged", p.damaged)
		if tl, err = openChecked(seg); err != nil {
			return nil, err
		}
	}
	l.rseg, l.rlog = seg, tl
	return tl, nil
}

// openChecked opens a sealed segment with tidwall and checks its header.
func openChecked(seg *segment) (*twal.Log, error) {
	tl, err := twal.Open(seg.dir, twalOptions())
	if err != nil {
		return nil, err
	}
	data, err := tl.Read(1)
	if err == nil {
		var h header
		h, err = parseHeader(data)
		if err == nil && h.first != seg.first {
			err = fmt.Errorf("%w: header says first record %d", errFrame, h.first)
		}
	}
	if err != nil {
		tl.Close()
		return nil, fmt.Errorf("segment %s: %w", seg.dir, err)
	}
	return tl, nil
}

// forget stops counting the bytes of a segment whose directory a repair
// removed or set aside; its positions stay listed, to be skipped.
func (l *Log) forget(seg *segment) {
	l.mu.Lock()
	l.bytes -= seg.bytes
	seg.bytes = 0
	seg.gone = true
	l.mu.Unlock()
}

// Ack marks every record up to seq delivered: Next will not hand them out
// again and segments holding only delivered records are removed at once.
// The cursor file follows in the background (see cursorLoop); Close
// persists it. After a crash, records whose acknowledgement had not reached
// the cursor file yet are delivered again: at least once, never lost.
func (l *Log) Ack(seq uint64) error {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closing {
		return ErrClosed
	}
	l.fileMu.Lock()
	l.mu.Lock()
	if seq > l.last {
		last := l.last
		l.mu.Unlock()
		l.fileMu.Unlock()
		return fmt.Errorf("wal ack %d, last appended %d: %w", seq, last, ErrAckRange)
	}
	if seq > l.acked {
		if from := max(l.acked, l.firstStoredLocked()-1); seq > from {
			l.st.Acked += seq - from
		}
		l.acked = seq
		l.read = max(l.read, seq+1)
	}
	gone := l.dropAckedLocked()
	l.mu.Unlock()
	l.removeSegs(gone)
	l.fileMu.Unlock()
	select {
	case l.ackc <- struct{}{}:
	default: // a write is already due; it takes the newest position
	}
	return nil
}

// Rewind makes Next hand out again from the first unacknowledged record.
func (l *Log) Rewind() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read = max(l.acked+1, l.firstStoredLocked())
	l.rgen++
}
