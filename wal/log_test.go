package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openLog(t testing.TB, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func rec(id int) []byte {
	return fmt.Appendf(nil, "%08d|%s", id, bytes.Repeat([]byte{byte('a' + id%26)}, 40+id%50))
}

func idOf(t testing.TB, b []byte) int {
	t.Helper()
	var id int
	if len(b) < 9 || b[8] != '|' {
		t.Fatalf("record %q", b)
	}
	if _, err := fmt.Sscanf(string(b[:8]), "%d", &id); err != nil || !bytes.Equal(b, rec(id)) {
		t.Fatalf("record %q does not match its id", b)
	}
	return id
}

func appendIDs(t testing.TB, l *Log, from, n int) {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = rec(from + i)
	}
	if err := l.Append(recs); err != nil {
		t.Fatalf("append %d..%d: %v", from, from+n-1, err)
	}
}

type item struct {
	seq uint64
	id  int
}

// readPending reads every pending record without acknowledging it.
func readPending(t testing.TB, l *Log) []item {
	t.Helper()
	l.Rewind()
	var out []item
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := l.next(ctx, 500, 1<<20, false)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if len(b.Records) == 0 {
			return out
		}
		for i, r := range b.Records {
			out = append(out, item{b.First + uint64(i), idOf(t, r)})
		}
	}
}

func segDirs(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var small = Options{SegmentBytes: 8 << 10, MaxBytes: 64 << 20}

func TestAppendReadAckReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, small)
	for id := 0; id < 2000; id += 50 {
		appendIDs(t, l, id, 50)
	}
	before := len(segDirs(t, dir))
	if before < 10 {
		t.Fatalf("%d segments for 2000 records of 8 KiB segments", before)
	}
	items := readPending(t, l)
	if len(items) != 2000 || items[0].seq != 1 {
		t.Fatalf("%d records from %d", len(items), items[0].seq)
	}
	for i, it := range items {
		if it.id != i || it.seq != uint64(i+1) {
			t.Fatalf("position %d: %+v", i, it)
		}
	}
	if err := l.Ack(1500); err != nil {
		t.Fatal(err)
	}
	// Segments wholly acknowledged are gone.
	if n := len(segDirs(t, dir)); n > before/4+2 {
		t.Fatalf("%d of %d segments left after acking 1500 of 2000 records", n, before)
	}
	st := l.Stats()
	if st.Acked != 1500 || st.Pending != 500 || st.Appended != 2000 {
		t.Fatalf("stats %+v", st)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, small)
	items = readPending(t, l)
	if len(items) != 500 || items[0].seq != 1501 || items[0].id != 1500 {
		t.Fatalf("after reopen %d records from %+v", len(items), items[0])
	}
	appendIDs(t, l, 2000, 1)
	items = readPending(t, l)
	if last := items[len(items)-1]; last.seq != 2001 || last.id != 2000 {
		t.Fatalf("appended after reopen: %+v", last)
	}
	if err := l.Ack(2001); err != nil {
		t.Fatal(err)
	}
	if n := len(segDirs(t, dir)); n != 1 {
		t.Fatalf("%d segments when everything is acknowledged", n)
	}
}

func TestGroupCommit(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	const writers, per = 16, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				if err := l.Append([][]byte{rec(w*per + i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	commits := l.commits
	l.mu.Unlock()
	t.Logf("%d appends in %d commits", writers*per, commits)
	if commits >= writers*per {
		t.Fatalf("%d commits for %d concurrent appends: no grouping", commits, writers*per)
	}
	if got := len(readPending(t, l)); got != writers*per {
		t.Fatalf("%d records", got)
	}
}

func TestOpenTwiceLocked(t *testing.T) {
	dir := t.TempDir()
	openLog(t, dir, small)
	if l, err := Open(dir, small); err == nil {
		l.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
}

func TestCursorDamaged(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, small)
	appendIDs(t, l, 0, 100)
	if err := l.Ack(60); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := os.WriteFile(filepath.Join(dir, cursorName), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, small)
	items := readPending(t, l)
	// Delivered again from the oldest stored record: never lost.
	if len(items) == 0 || items[0].seq > 61 || items[len(items)-1].id != 99 {
		t.Fatalf("after cursor damage: %d records from %+v", len(items), items[0])
	}
	if l.Stats().Corrupt != 1 {
		t.Fatalf("stats %+v", l.Stats())
	}
}

func TestCursorAheadOfLog(t *testing.T) {
	// A power cut can leave the cursor ahead of the log when the data was
	// not fsynced (SyncNever). New records must never get acknowledged
	// sequence numbers.
	dir := t.TempDir()
	l := openLog(t, dir, small)
	appendIDs(t, l, 0, 10)
	l.Close()
	c := cursorFile{slot: -1}
	if err := c.write(dir, 50, true); err != nil {
		t.Fatal(err)
	}
	c.close()
	l = openLog(t, dir, small)
	appendIDs(t, l, 10, 5)
	items := readPending(t, l)
	if len(items) != 5 || items[0].seq != 51 || items[0].id != 10 {
		t.Fatalf("after cursor ahead: %+v", items)
	}
}

func TestMidLogDamageSkipped(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, small)
	for id := 0; id < 1000; id += 100 {
		appendIDs(t, l, id, 100)
	}
	l.Close()
	segs := segDirs(t, dir)
	// Flip a payload byte of the 3rd record of the second segment and
	// destroy a length prefix in the fourth.
	first2 := flipInSegment(t, segs[1], 2, false)
	first4 := flipInSegment(t, segs[3], 5, true)
	l = openLog(t, dir, small)
	items := readPending(t, l)
	want := map[uint64]bool{first2 + 2: true, first4 + 5: true}
	if len(items) != 998 {
		t.Fatalf("%d records delivered, want 998", len(items))
	}
	for i, it := range items {
		if want[it.seq] {
			t.Fatalf("damaged record %d delivered", it.seq)
		}
		if it.id != int(it.seq-1) || i > 0 && it.seq <= items[i-1].seq {
			t.Fatalf("position %d: %+v", i, it)
		}
	}
	// Two damaged records, and one repair of the segment tidwall could
	// not parse.
	if st := l.Stats(); st.Corrupt != 3 {
		t.Fatalf("stats %+v", st)
	}
	readPending(t, l) // counted once, not on every pass
	if st := l.Stats(); st.Corrupt != 3 {
		t.Fatalf("after a second pass: %+v", st)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, brokenDir, "*")); len(m) == 0 {
		t.Fatal("damaged bytes not kept")
	}
}

// flipInSegment damages record k of a segment: a payload byte, or its
// length prefix. It returns the segment's first sequence number.
func flipInSegment(t *testing.T, segDir string, k int, length bool) uint64 {
	t.Helper()
	path := filepath.Join(segDir, segFile)
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, off, _ := nextEntry(img)
	first, _ := parseSegName(filepath.Base(segDir))
	for range k {
		_, n, _ := nextEntry(img[off:])
		off += n
	}
	if length {
		img[off] = 0xfe
		img[off+1] = 0xff
	} else {
		img[off+30] ^= 0x10
	}
	if err := os.WriteFile(path, img, 0o640); err != nil {
		t.Fatal(err)
	}
	return first
}

// TestPowerLoss simulates power cuts: the last segment cut at random
// offsets or garbled at random places, then reopened.
func TestPowerLoss(t *testing.T) {
	iters := 200
	if testing.Short() {
		iters = 40
	}
	src := t.TempDir()
	l := openLog(t, src, small)
	for id := 0; id < 400; id += 20 {
		appendIDs(t, l, id, 20)
	}
	if err := l.Ack(50); err != nil {
		t.Fatal(err)
	}
	l.Close()
	segs := segDirs(t, src)
	lastSeg := filepath.Join(filepath.Base(segs[len(segs)-1]), segFile)
	orig, err := os.ReadFile(filepath.Join(src, lastSeg))
	if err != nil {
		t.Fatal(err)
	}
	lastFirst, _ := parseSegName(filepath.Base(segs[len(segs)-1]))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range iters {
		dir := t.TempDir()
		copyDir(t, src, dir)
		img := bytes.Clone(orig)
		intact := len(img) // bytes before the first damage
		if r.IntN(2) == 0 {
			img = img[:r.IntN(len(img)+1)]
			intact = len(img)
		} else {
			for range 1 + r.IntN(8) {
				p := r.IntN(len(img))
				img[p] ^= byte(1 + r.IntN(255))
				intact = min(intact, p)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, lastSeg), img, 0o640); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, small)
		if err != nil {
			t.Fatalf("iteration %d: open: %v", i, err)
		}
		items := readPending(t, l)
		// Records wholly before the damage must all be there.
		sc := newScanner(orig[:intact], lastFirst)
		must := 0
		for sc.Next() {
			if sc.Damage() == nil {
				must = int(sc.Seq())
			}
		}
		if must == 0 {
			must = int(lastFirst) - 1
		}
		seen := map[uint64]bool{}
		for j, it := range items {
			if seen[it.seq] || j > 0 && it.seq <= items[j-1].seq || it.id != int(it.seq-1) {
				t.Fatalf("iteration %d: bad item %+v at %d", i, it, j)
			}
			seen[it.seq] = true
		}
		for s := uint64(51); s <= uint64(must); s++ {
			if !seen[s] {
				t.Fatalf("iteration %d: record %d lost (damage at byte %d of the last segment)", i, s, intact)
			}
		}
		// The log takes new records after the repaired ones.
		appendIDs(t, l, 100000, 1)
		items = readPending(t, l)
		if last := items[len(items)-1]; last.id != 100000 {
			t.Fatalf("iteration %d: new record not last: %+v", i, last)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("iteration %d: close: %v", i, err)
		}
	}
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewerFormatSetAside(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, small)
	appendIDs(t, l, 0, 10)
	l.Close()
	// Rewrite the only segment's header as version FormatVersion+1.
	seg := segDirs(t, dir)[0]
	path := filepath.Join(seg, segFile)
	img, _ := os.ReadFile(path)
	_, n, _ := nextEntry(img)
	first, _ := parseSegName(filepath.Base(seg))
	img = append(appendEntry(nil, appendHeader(nil, header{version: FormatVersion + 1, first: first})), img[n:]...)
	if err := os.WriteFile(path, img, 0o640); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, small)
	if _, err := os.Stat(filepath.Join(dir, newerDir, filepath.Base(seg), segFile)); err != nil {
		t.Fatalf("newer segment not kept: %v", err)
	}
	appendIDs(t, l, 10, 1)
	if items := readPending(t, l); len(items) != 1 || items[0].id != 10 {
		t.Fatalf("items %+v", items)
	}
}

func TestAckRangeAndClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), small)
	appendIDs(t, l, 0, 3)
	if err := l.Ack(4); !errors.Is(err, ErrAckRange) {
		t.Fatalf("ack 4 of 3: %v", err)
	}
	if err := l.Append([][]byte{make([]byte, l.opts.MaxRecordBytes+1)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	l.Close()
	if err := l.Append([][]byte{rec(1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := l.Next(context.Background(), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("next after close: %v", err)
	}
}

func TestSealedSegmentHeaderDamage(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset int // byte of the segment file to garble
	}{
		{"crc", 5},    // header checksum fails
		{"length", 0}, // tidwall cannot parse the segment
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, small)
			for id := 0; id < 600; id += 100 {
				appendIDs(t, l, id, 100)
			}
			l.Close()
			seg := segDirs(t, dir)[1]
			first, _ := parseSegName(filepath.Base(seg))
			path := filepath.Join(seg, segFile)
			img, _ := os.ReadFile(path)
			img[c.offset] ^= 0xff
			os.WriteFile(path, img, 0o640)
			l = openLog(t, dir, small)
			for range 2 { // a second pass neither recounts nor recreates
				// The header is rewritten from the directory name; the
				// records carry their own sequence numbers: none is lost.
				items := readPending(t, l)
				if len(items) != 600 {
					t.Fatalf("%d records, want 600", len(items))
				}
				for _, it := range items {
					if it.id != int(it.seq-1) {
						t.Fatalf("bad item %+v", it)
					}
				}
				if st := l.Stats(); st.Corrupt != 1 {
					t.Fatalf("stats %+v", st)
				}
			}
			if h, err := os.ReadFile(path); err != nil || !bytes.Equal(h[:headerEntry], appendEntry(nil, appendHeader(nil, header{FormatVersion, first}))) {
				t.Fatalf("header not rewritten: %v", err)
			}
		})
	}
}

// Under SyncBatch, commits (each one fsync) are at least SyncGap apart
// while appends are small: appends arriving meanwhile share the next one.
func TestSyncGap(t *testing.T) {
	const gap = 50 * time.Millisecond
	l := openLog(t, t.TempDir(), Options{SyncGap: gap})
	const writers, per = 4, 10
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				if err := l.Append([][]byte{rec(w*per + i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	l.mu.Lock()
	commits := l.commits
	l.mu.Unlock()
	t.Logf("%d appends in %d commits in %v", writers*per, commits, elapsed)
	if limit := uint64(elapsed/gap) + 1; commits > limit {
		t.Fatalf("%d commits in %v: more than one per %v", commits, elapsed, gap)
	}
	if got := len(readPending(t, l)); got != writers*per {
		t.Fatalf("%d records", got)
	}
}

// A batch's records are copies of their own: changing one touches neither
// its neighbours nor the tail segment's buffer that later reads return.
func TestBatchRecordsDetached(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 1 << 20, MaxBytes: 64 << 20})
	appendIDs(t, l, 0, 100)
	b, err := l.next(context.Background(), 100, 1<<20, false)
	if err != nil || len(b.Records) != 100 {
		t.Fatalf("next: %d records, %v", len(b.Records), err)
	}
	for i, r := range b.Records {
		if cap(r) != len(r) {
			t.Fatalf("record %d: capacity %d beyond its %d bytes", i, cap(r), len(r))
		}
	}
	clear(b.Records[0])
	_ = append(b.Records[1][:len(b.Records[1])-1], 'X') // within capacity: changes record 1 only
	if id := idOf(t, b.Records[2]); id != 2 {
		t.Fatalf("record 2 holds %d", id)
	}
	for i, it := range readPending(t, l) {
		if it.id != i {
			t.Fatalf("position %d: %+v after a held copy was changed", i, it)
		}
	}
}

// The sealed segment read last is closed once the reader reaches the tail
// (tidwall holds a whole segment in memory for reading).
func TestReaderClosesSealedSegment(t *testing.T) {
	l := openLog(t, t.TempDir(), small)
	for id := 0; id < 300; id += 10 {
		appendIDs(t, l, id, 10) // several 8 KiB segments
	}
	ctx := context.Background()
	sealed := false
	for n := 0; n < 300; {
		b, err := l.next(ctx, 40, 1<<20, false)
		if err != nil || len(b.Records) == 0 {
			t.Fatalf("next after %d records: %d, %v", n, len(b.Records), err)
		}
		n += len(b.Records)
		sealed = sealed || l.rlog != nil
	}
	if !sealed {
		t.Fatal("no sealed segment was read")
	}
	if l.rlog != nil {
		t.Fatal("sealed segment still open after reading the tail")
	}
}
