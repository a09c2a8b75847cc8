package storage

import (
	"context"
	"fmt"
	"sync"

	"github.com/tbgw/tbgw/wal"
)

// Overflow selects what a full store does with new records.
type Overflow = wal.Overflow

// Overflow policies.
const (
	DropOldest = wal.DropOldest // discard the oldest records (default)
	RejectNew  = wal.RejectNew  // refuse the append with ErrFull
)

// Default limits of the memory store: upstream's max_records_count default
// and a byte cap that keeps a 64 MB board safe whatever the record size.
const (
	DefaultMemoryRecords = 10000
	DefaultMemoryBytes   = 16 << 20
)

// MemoryOptions bound a memory store.
type MemoryOptions struct {
	MaxRecords int      // records held at most; 0 means DefaultMemoryRecords
	MaxBytes   int64    // payload bytes held at most; 0 means DefaultMemoryBytes
	Overflow   Overflow // policy when full; DropOldest by default
}

// Memory is a bounded in-memory ring of records. It loses its content on
// restart; everything else behaves like the write-ahead log.
type Memory struct {
	opts MemoryOptions

	mu     sync.Mutex
	q      [][]byte      // stored records; q[head] has sequence number first
	head   int           // index of the oldest stored record in q
	first  uint64        // sequence number of q[head]
	next   uint64        // sequence number the next appended record gets
	read   uint64        // sequence number Next hands out next
	acked  uint64        // highest acknowledged sequence number
	bytes  int64         // payload bytes stored
	wake   chan struct{} // closed and replaced when records arrive or on Close
	closed bool
	st     Stats
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty memory store. Sequence numbers start at 1.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = DefaultMemoryRecords
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMemoryBytes
	}
	return &Memory{opts: opts, first: 1, next: 1, read: 1, wake: make(chan struct{})}
}

func (m *Memory) count() int { return len(m.q) - m.head }

// Append copies recs into the store. Under DropOldest it always succeeds
// (unless a single record exceeds MaxBytes); under RejectNew a batch that
// does not fit is refused as a whole with ErrFull.
func (m *Memory) Append(recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	var size int64
	for _, r := range recs {
		if int64(len(r)) > m.opts.MaxBytes {
			return fmt.Errorf("memory storage: %d-byte record, limit %d: %w", len(r), m.opts.MaxBytes, ErrTooLarge)
		}
		size += int64(len(r))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.opts.Overflow == RejectNew &&
		(m.count()+len(recs) > m.opts.MaxRecords || m.bytes+size > m.opts.MaxBytes) {
		m.st.Dropped += uint64(len(recs))
		return fmt.Errorf("memory storage: %d records held, %d bytes: %w", m.count(), m.bytes, ErrFull)
	}
	// A batch larger than the whole store keeps only its newest records.
	if skip := len(recs) - m.opts.MaxRecords; skip > 0 {
		m.dropAll()
		m.st.Dropped += uint64(skip)
		m.next += uint64(skip)
		m.st.Appended += uint64(skip)
		recs = recs[skip:]
	}
	for _, r := range recs {
		for m.count() > 0 && (m.count()+1 > m.opts.MaxRecords || m.bytes+int64(len(r)) > m.opts.MaxBytes) {
			m.popFront(true)
		}
		if m.count() == 0 {
			m.first = m.next
		}
		m.q = append(m.q, append([]byte(nil), r...))
		m.bytes += int64(len(r))
		m.next++
		m.st.Appended++
	}
	if m.read < m.first {
		m.read = m.first
	}
	close(m.wake)
	m.wake = make(chan struct{})
	return nil
}

// popFront removes the oldest record; dropped tells whether it counts as
// lost (overflow) rather than delivered (ack).
func (m *Memory) popFront(dropped bool) {
	r := m.q[m.head]
	m.q[m.head] = nil
	m.head++
	m.bytes -= int64(len(r))
	if dropped {
		m.st.Dropped++
	} else {
		m.st.Acked++
	}
	m.first++
	if m.head == len(m.q) {
		m.q, m.head = m.q[:0], 0
	} else if m.head >= 1024 && m.head*2 >= len(m.q) {
		n := copy(m.q, m.q[m.head:])
		clear(m.q[n:])
		m.q, m.head = m.q[:n], 0
	}
}

func (m *Memory) dropAll() {
	for m.count() > 0 {
		m.popFront(true)
	}
}

// Next waits for records past the last handed-out one and returns up to max
// of them totalling at most maxBytes (always at least one).
func (m *Memory) Next(ctx context.Context, max, maxBytes int) (Batch, error) {
	if max <= 0 {
		max = 1
	}
	m.mu.Lock()
	for !m.closed && m.read >= m.next {
		wake := m.wake
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		case <-wake:
		}
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	if m.closed {
		return Batch{}, ErrClosed
	}
	if m.read < m.first {
		m.read = m.first
	}
	b := Batch{First: m.read}
	i := m.head + int(m.read-m.first)
	n := 0
	for ; i < len(m.q) && len(b.Records) < max; i++ {
		r := m.q[i]
		if len(b.Records) > 0 && n+len(r) > maxBytes {
			break
		}
		n += len(r)
		b.Records = append(b.Records, r)
	}
	m.read += uint64(len(b.Records))
	return b, nil
}

// Ack drops every record with a sequence number <= seq.
func (m *Memory) Ack(seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if seq >= m.next {
		return fmt.Errorf("memory storage: ack %d, last appended %d: %w", seq, m.next-1, ErrAckRange)
	}
	if seq <= m.acked {
		return nil
	}
	m.acked = seq
	for m.count() > 0 && m.first <= seq {
		m.popFront(false)
	}
	if m.count() == 0 {
		m.first = m.next
	}
	if m.read <= seq {
		m.read = seq + 1
	}
	return nil
}

// Rewind makes Next hand out again from the first unacknowledged record.
func (m *Memory) Rewind() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read = max(m.acked+1, m.first)
}

// Stats returns the counters.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.st
	s.Pending = uint64(m.count())
	s.Bytes = m.bytes
	return s
}

// Close discards the content and wakes waiting readers; it is idempotent.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.q, m.head, m.bytes = nil, 0, 0
		close(m.wake)
	}
	return nil
}
