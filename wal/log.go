package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	twal "github.com/tidwall/wal"
)

// Batch is a run of consecutive records handed out by Next.
type Batch struct {
	First   uint64   // sequence number of Records[0]
	Records [][]byte // Records[i] has sequence number First+i
}

// Last is the sequence number of the batch's last record.
func (b Batch) Last() uint64 { return b.First + uint64(len(b.Records)) - 1 }

// Stats are the log's counters.
type Stats struct {
	Appended uint64 // records accepted since Open
	Acked    uint64 // stored records acknowledged since Open
	Dropped  uint64 // records dropped by the overflow policy or rejected
	Corrupt  uint64 // damaged records skipped, plus damaged segments repaired
	Pending  uint64 // records stored and not yet acknowledged
	Bytes    int64  // size of the segment files
}

// Log is a segmented write-ahead log with a persisted read cursor. All
// methods are safe for concurrent use.
type Log struct {
	dir   string
	opts  Options
	log   *slog.Logger
	lockf *os.File

	closeMu sync.RWMutex // held shared by Append (while queueing) and Ack
	closing bool

	// fileMu serialises removing segment directories with opening them for
	// reading (tidwall creates a directory it does not find). It is taken
	// before mu.
	fileMu sync.Mutex

	mu      sync.Mutex
	segs    []*segment // oldest first
	tail    *segment   // the segment appended to (last of segs), nil if none
	last    uint64     // last record readers may see (durable under SyncBatch)
	acked   uint64     // highest acknowledged sequence number
	read    uint64     // next sequence number Next hands out
	rgen    uint64     // incremented by Rewind
	bytes   int64      // size of all segment files
	damaged uint64     // highest sequence number counted as corrupt
	commits uint64     // successful writes (group commits), for tests
	wake    chan struct{}
	closed  bool
	st      Stats

	ackMu     sync.Mutex
	persisted uint64        // cursor on disk
	cur       cursorFile    // the cursor file, under ackMu
	ackc      chan struct{} // wakes cursorLoop
	cdone     chan struct{} // closed when cursorLoop returned

	// Appends queue their requests; the leader holding wmu writes them.
	qmu       sync.Mutex
	queue     []*request
	wmu       sync.Mutex  // held by the commit leader; guards the fields below
	batch     []*request  // requests of the current commit
	lastSync  time.Time   // end of the last commit's fsync (SyncBatch)
	quickSync atomic.Bool // the last fdatasync was quick: the next is a raw call (sync_linux.go)
	quit      chan struct{}
	done      chan struct{} // closed when syncer returned
	spares    chan string   // ready segment directories from spareMaker
	sdone     chan struct{} // closed when spareMaker returned
	wnext     uint64        // sequence number of the next record placed
	wb        twal.Batch    // records placed and not yet written
	wframe    []byte
	inBatch   []*request
	pCount    uint64
	pBytes    int64
	dirty     bool // written but not fsynced (SyncInterval)
	dropLog   time.Time
	finalErr  error

	// Reader (held by one Next at a time through rsem).
	rsem chan struct{}
	rseg *segment
	rlog *twal.Log
}

// Open opens the log in dir, creating it if needed. A torn or damaged tail
// is repaired (the damaged bytes are kept in dir/broken, the Corrupt
// counter incremented, a warning logged); Open fails only when the
// directory cannot be used at all.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	lockf, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	l := &Log{
		dir:    dir,
		opts:   opts,
		log:    opts.Logger.With("dir", dir),
		lockf:  lockf,
		wake:   make(chan struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		rsem:   make(chan struct{}, 1),
		ackc:   make(chan struct{}, 1),
		spares: make(chan string),
		sdone:  make(chan struct{}),
		cdone:  make(chan struct{}),
	}
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.closeTail()
		}
		lockf.Close()
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	go l.syncer()
	go l.cursorLoop()
	go l.spareMaker()
	return l, nil
}

func (o Options) withDefaults() Options {
	d := DefaultOptions
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	o.MaxBytes = max(o.MaxBytes, 4*MinSegmentBytes)
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = d.SegmentBytes
	}
	o.SegmentBytes = max(min(o.SegmentBytes, o.MaxBytes/4), MinSegmentBytes)
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = d.MaxRecordBytes
	}
	o.MaxRecordBytes = int(min(int64(o.MaxRecordBytes), o.MaxBytes/4))
	if o.SyncInterval <= 0 {
		o.SyncInterval = d.SyncInterval
	}
	if o.SyncGap == 0 {
		o.SyncGap = d.SyncGap
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// load reads the cursor and the segment list, removes what is acknowledged,
// repairs the last segment and opens it for appending.
func (l *Log) load() error {
	os.Remove(filepath.Join(l.dir, cursorName+tmpSuffix))
	acked, slot, haveCursor, err := readCursor(l.dir)
	l.cur.slot = slot
	if err != nil {
		l.log.Warn("wal: cursor unreadable, delivering again from the oldest stored record", "err", err)
		l.st.Corrupt++
	}
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	if !haveCursor && len(segs) > 0 {
		acked = segs[0].first - 1
	}
	for len(segs) > 1 && segs[1].first-1 <= acked {
		if err := removeSegment(segs[0]); err != nil {
			return err
		}
		segs = segs[1:]
	}
	var count uint64
	for len(segs) > 0 {
		t := segs[len(segs)-1]
		p, err := t.repair(l.dir)
		if errors.Is(err, errBadSegment) {
			l.log.Warn("wal: segment with a damaged header set aside", "err", err)
			l.st.Corrupt++
			segs = segs[:len(segs)-1]
			continue
		}
		if err != nil {
			return err
		}
		t.bytes = int64(p.size)
		if p.cut >= 0 {
			l.log.Warn("wal: damaged tail repaired, damaged bytes kept in "+brokenDir,
				"segment", filepath.Base(t.dir), "offset", p.cut, "records", p.records, "damaged", p.damaged)
			l.st.Corrupt++
		}
		count = uint64(p.records)
		break
	}
	l.segs = segs
	l.acked, l.persisted = acked, acked
	l.last = acked
	if len(segs) > 0 {
		t := segs[len(segs)-1]
		l.last = max(acked, t.first+count-1)
		if t.first+count == l.last+1 {
			if err := t.openTail(count); err != nil {
				l.log.Warn("wal: cannot append to the last segment, starting a new one", "err", err)
			} else {
				l.tail = t
			}
		}
	}
	for _, s := range segs {
		l.bytes += s.bytes
	}
	l.read = max(acked+1, l.firstStoredLocked())
	l.wnext = l.last + 1
	if l.tail == nil {
		if err := l.roll(); err != nil {
			// Not fatal: reading works, appending retries.
			l.log.Warn("wal: cannot create a segment", "err", err)
		}
	}
	return nil
}

// firstStoredLocked is the sequence number of the oldest stored record.
func (l *Log) firstStoredLocked() uint64 {
	if len(l.segs) > 0 {
		return l.segs[0].first
	}
	return l.last + 1
}

// segEndLocked is the last sequence number segment i may hold.
func (l *Log) segEndLocked(i int) uint64 {
	if i+1 < len(l.segs) {
		return l.segs[i+1].first - 1
	}
	return l.last
}

// segIndexLocked is the index of the segment holding seq, -1 if none.
func (l *Log) segIndexLocked(seq uint64) int {
	return sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > seq }) - 1
}

// dropAckedLocked removes fully acknowledged segments other than the tail
// from the list and returns them for removal (under fileMu).
func (l *Log) dropAckedLocked() []*segment {
	var gone []*segment
	for len(l.segs) > 0 && l.segs[0] != l.tail && l.segEndLocked(0) <= l.acked {
		gone = append(gone, l.segs[0])
		l.bytes -= l.segs[0].bytes
		l.segs = l.segs[1:]
	}
	return gone
}

func (l *Log) removeSegs(gone []*segment) {
	for _, s := range gone {
		if err := removeSegment(s); err != nil {
			l.log.Warn("wal: cannot remove segment", "err", err)
		}
	}
}

func (l *Log) broadcastLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.st
	if from := max(l.acked, l.firstStoredLocked()-1); l.last > from {
		s.Pending = l.last - from
	}
	s.Bytes = l.bytes
	return s
}

// Close writes what was queued, fsyncs, persists the cursor and releases
// the directory. It is idempotent.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if l.closing {
		l.closeMu.Unlock()
		return nil
	}
	l.closing = true
	l.closeMu.Unlock()

	l.mu.Lock()
	l.closed = true
	l.broadcastLocked()
	l.mu.Unlock()

	close(l.quit)
	<-l.done
	<-l.cdone
	<-l.sdone
	l.wmu.Lock()
	l.finish()
	l.wmu.Unlock()
	if err := l.persistCursor(true); err != nil && l.finalErr == nil {
		l.finalErr = fmt.Errorf("persisting cursor: %w", err)
	}
	l.ackMu.Lock()
	l.cur.close()
	l.ackMu.Unlock()
	l.rsem <- struct{}{}
	l.closeReaderLog()
	<-l.rsem
	err := l.finalErr
	if cerr := l.lockf.Close(); err == nil {
		err = cerr
	}
	return err
}
