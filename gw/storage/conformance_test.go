package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/wal"
)

// limits are the bounds a conformance test asks a store for.
type limits struct {
	records  int
	bytes    int64
	overflow Overflow
}

// impl is one Store implementation under the conformance suite.
type impl struct {
	name string
	// open opens (or reopens) a store kept in dir.
	open func(t *testing.T, dir string, lim limits) Store
	// persistent stores keep their content across Close and open.
	persistent bool
	// exact stores apply limits record by record; others drop whole
	// segments and count framing overhead in bytes.
	exact bool
}

func rec(id int, size int) []byte {
	b := fmt.Appendf(nil, "rec-%08d|", id)
	for len(b) < size {
		b = append(b, byte('a'+id%26))
	}
	return b
}

func recID(t *testing.T, b []byte) int {
	t.Helper()
	var id int
	if _, err := fmt.Sscanf(string(b), "rec-%08d|", &id); err != nil {
		t.Fatalf("record %q: %v", b, err)
	}
	return id
}

func appendIDs(t *testing.T, s Store, from, n, size int) {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = rec(from+i, size)
	}
	if err := s.Append(recs); err != nil {
		t.Fatalf("append %d..%d: %v", from, from+n-1, err)
	}
}

func next(t *testing.T, s Store, max, maxBytes int) Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := s.Next(ctx, max, maxBytes)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	if len(b.Records) == 0 {
		t.Fatal("next returned an empty batch")
	}
	return b
}

// drain reads everything currently stored without acknowledging it.
func drain(t *testing.T, s Store) Batch {
	t.Helper()
	var all Batch
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		b, err := s.Next(ctx, 1000, 1<<20)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return all
		}
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		if len(all.Records) == 0 {
			all.First = b.First
		} else if b.First != all.Last()+1 {
			t.Fatalf("drain: batch starts at %d after %d", b.First, all.Last())
		}
		all.Records = append(all.Records, b.Records...)
	}
}

func checkIDs(t *testing.T, b Batch, firstID int) {
	t.Helper()
	for i, r := range b.Records {
		if id := recID(t, r); id != firstID+i {
			t.Fatalf("record %d (seq %d) has id %d, want %d", i, b.First+uint64(i), id, firstID+i)
		}
	}
}

func runConformance(t *testing.T, im impl) {
	noLimit := limits{records: 1 << 20, bytes: 1 << 30}
	open := func(t *testing.T, lim limits) (Store, string) {
		dir := t.TempDir()
		s := im.open(t, dir, lim)
		t.Cleanup(func() { s.Close() })
		return s, dir
	}

	t.Run("Order", func(t *testing.T) {
		s, _ := open(t, noLimit)
		id := 0
		for n := 1; id < 1000; n = n%37 + 1 {
			appendIDs(t, s, id, n, 50+n)
			id += n
		}
		all := drain(t, s)
		if len(all.Records) != id {
			t.Fatalf("read %d records, appended %d", len(all.Records), id)
		}
		checkIDs(t, all, 0)
		if st := s.Stats(); st.Appended != uint64(id) || st.Pending != uint64(id) {
			t.Fatalf("stats %+v, want %d appended and pending", st, id)
		}
	})

	t.Run("RedeliverUntilAcked", func(t *testing.T) {
		s, _ := open(t, noLimit)
		appendIDs(t, s, 0, 10, 64)
		b1 := next(t, s, 4, 1<<20)
		b2 := next(t, s, 4, 1<<20)
		if len(b1.Records) != 4 || b2.First != b1.Last()+1 {
			t.Fatalf("batches %d+%d records at %d, %d", len(b1.Records), len(b2.Records), b1.First, b2.First)
		}
		checkIDs(t, b2, 4)
		s.Rewind()
		again := next(t, s, 4, 1<<20)
		if again.First != b1.First || len(again.Records) != 4 {
			t.Fatalf("after rewind got %d records at %d, want 4 at %d", len(again.Records), again.First, b1.First)
		}
		checkIDs(t, again, 0)
		if err := s.Ack(b1.Last()); err != nil {
			t.Fatal(err)
		}
		s.Rewind()
		b := next(t, s, 100, 1<<20)
		if b.First != b1.Last()+1 || len(b.Records) != 6 {
			t.Fatalf("after ack got %d records at %d", len(b.Records), b.First)
		}
		checkIDs(t, b, 4)
	})

	t.Run("PartialAck", func(t *testing.T) {
		s, _ := open(t, noLimit)
		appendIDs(t, s, 0, 10, 64)
		b := next(t, s, 10, 1<<20)
		if err := s.Ack(b.First + 3); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Acked != 4 || st.Pending != 6 {
			t.Fatalf("stats after partial ack: %+v", st)
		}
		s.Rewind()
		r := drain(t, s)
		if r.First != b.First+4 || len(r.Records) != 6 {
			t.Fatalf("after partial ack got %d records at %d", len(r.Records), r.First)
		}
		checkIDs(t, r, 4)
		if err := s.Ack(b.First + 1); err != nil { // older ack is a no-op
			t.Fatal(err)
		}
		if err := s.Ack(b.Last() + 1); !errors.Is(err, ErrAckRange) {
			t.Fatalf("ack past the end: %v, want ErrAckRange", err)
		}
	})

	t.Run("BatchLimits", func(t *testing.T) {
		s, _ := open(t, noLimit)
		appendIDs(t, s, 0, 10, 100)
		if b := next(t, s, 10, 250); len(b.Records) != 2 {
			t.Fatalf("maxBytes 250: %d records of 100 bytes", len(b.Records))
		}
		if b := next(t, s, 10, 50); len(b.Records) != 1 {
			t.Fatalf("maxBytes 50: %d records, want the one that does not fit", len(b.Records))
		}
		if b := next(t, s, 3, 1<<20); len(b.Records) != 3 {
			t.Fatalf("max 3: %d records", len(b.Records))
		}
	})

	t.Run("NextWaits", func(t *testing.T) {
		s, _ := open(t, noLimit)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := s.Next(ctx, 10, 1<<20)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("next on empty store: %v", err)
		}
		got := make(chan Batch, 1)
		go func() {
			b, err := s.Next(context.Background(), 10, 1<<20)
			if err != nil {
				t.Error(err)
			}
			got <- b
		}()
		appendIDs(t, s, 0, 3, 64)
		select {
		case b := <-got:
			checkIDs(t, b, 0)
		case <-time.After(5 * time.Second):
			t.Fatal("next did not wake up on append")
		}
	})

	t.Run("Close", func(t *testing.T) {
		s := im.open(t, t.TempDir(), noLimit)
		done := make(chan error, 1)
		go func() {
			_, err := s.Next(context.Background(), 10, 1<<20)
			done <- err
		}()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("next after close: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("close did not wake next")
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if err := s.Append([][]byte{rec(0, 10)}); !errors.Is(err, ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
		if err := s.Ack(0); !errors.Is(err, ErrClosed) {
			t.Fatalf("ack after close: %v", err)
		}
	})

	t.Run("ConcurrentAppend", func(t *testing.T) {
		s, _ := open(t, noLimit)
		const writers, per = 8, 400
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for i := 0; i < per; {
					n := min(1+r.IntN(20), per-i)
					recs := make([][]byte, n)
					for k := range recs {
						recs[k] = rec(w*per+i+k, 40)
					}
					if err := s.Append(recs); err != nil {
						t.Error(err)
						return
					}
					i += n
				}
			}()
		}
		wg.Wait()
		all := drain(t, s)
		if len(all.Records) != writers*per {
			t.Fatalf("read %d records, want %d", len(all.Records), writers*per)
		}
		last := make([]int, writers)
		for i := range last {
			last[i] = -1
		}
		for _, r := range all.Records {
			id := recID(t, r)
			w, i := id/per, id%per
			if i != last[w]+1 {
				t.Fatalf("writer %d: record %d after %d", w, i, last[w])
			}
			last[w] = i
		}
	})

	t.Run("DropOldest", func(t *testing.T) {
		lim := limits{records: 100, bytes: 1 << 30, overflow: DropOldest}
		s, _ := open(t, lim)
		for id := 0; id < 250; id += 10 {
			appendIDs(t, s, id, 10, 64)
		}
		st := s.Stats()
		all := drain(t, s)
		n := len(all.Records)
		if n == 0 || n > 100 || (im.exact && n != 100) {
			t.Fatalf("%d records kept under a 100-record limit", n)
		}
		checkIDs(t, all, 250-n)
		if all.Last() != st.Appended || st.Appended != 250 {
			t.Fatalf("last seq %d, stats %+v", all.Last(), st)
		}
		if st.Dropped != uint64(250-n) || st.Pending != uint64(n) {
			t.Fatalf("stats %+v with %d records kept", st, n)
		}
	})

	t.Run("DropOldestInFlight", func(t *testing.T) {
		lim := limits{records: 50, bytes: 1 << 30, overflow: DropOldest}
		s, _ := open(t, lim)
		appendIDs(t, s, 0, 20, 64)
		b := next(t, s, 20, 1<<20)
		for id := 20; id < 200; id += 10 {
			appendIDs(t, s, id, 10, 64)
		}
		if err := s.Ack(b.Last()); err != nil {
			t.Fatalf("ack of records dropped meanwhile: %v", err)
		}
		r := drain(t, s)
		if len(r.Records) == 0 || r.Last() != 200 {
			t.Fatalf("after drop: %d records ending at %d", len(r.Records), r.Last())
		}
		checkIDs(t, r, 200-len(r.Records))
	})

	t.Run("RejectNew", func(t *testing.T) {
		lim := limits{records: 100, bytes: 1 << 30, overflow: RejectNew}
		s, _ := open(t, lim)
		for id := 0; id < 100; id += 10 {
			appendIDs(t, s, id, 10, 64)
		}
		err := s.Append([][]byte{rec(100, 64), rec(101, 64)})
		if !errors.Is(err, ErrFull) {
			t.Fatalf("append to a full store: %v", err)
		}
		if st := s.Stats(); st.Dropped != 2 || st.Pending != 100 || st.Appended != 100 {
			t.Fatalf("stats after reject: %+v", st)
		}
		all := drain(t, s)
		if len(all.Records) != 100 {
			t.Fatalf("%d records kept", len(all.Records))
		}
		checkIDs(t, all, 0)
		if err := s.Ack(all.Last()); err != nil {
			t.Fatal(err)
		}
		appendIDs(t, s, 100, 10, 64)
		b := next(t, s, 100, 1<<20)
		checkIDs(t, b, 100)
	})

	t.Run("ByteLimit", func(t *testing.T) {
		for _, ov := range []Overflow{DropOldest, RejectNew} {
			t.Run(ov.String(), func(t *testing.T) {
				lim := limits{records: 1 << 20, bytes: 64 << 10, overflow: ov}
				s, _ := open(t, lim)
				full := false
				for id := 0; id < 400; id++ {
					err := s.Append([][]byte{rec(id, 1000)})
					if errors.Is(err, ErrFull) && ov == RejectNew {
						full = true
						break
					}
					if err != nil {
						t.Fatalf("append %d: %v", id, err)
					}
					if b := s.Stats().Bytes; b > lim.bytes {
						t.Fatalf("%d bytes held, limit %d", b, lim.bytes)
					}
				}
				if ov == RejectNew && !full {
					t.Fatal("400 KB fitted into a 64 KB store")
				}
				st := s.Stats()
				if st.Dropped == 0 || st.Bytes < lim.bytes/2 {
					t.Fatalf("stats %+v", st)
				}
				if ov == DropOldest {
					all := drain(t, s)
					checkIDs(t, all, 400-len(all.Records))
				}
			})
		}
		s, _ := open(t, limits{records: 1 << 20, bytes: 64 << 10})
		if err := s.Append([][]byte{make([]byte, 65<<10)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("record above the byte limit: %v", err)
		}
	})

	if !im.persistent {
		return // a volatile store has no restart to survive
	}
	t.Run("Restart", func(t *testing.T) {
		dir := t.TempDir()
		s := im.open(t, dir, noLimit)
		appendIDs(t, s, 0, 100, 80)
		b := next(t, s, 30, 1<<20)
		if err := s.Ack(b.First + 19); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = im.open(t, dir, noLimit)
		defer s.Close()
		if st := s.Stats(); st.Pending != 80 {
			t.Fatalf("after reopen: %+v", st)
		}
		all := drain(t, s)
		if all.First != b.First+20 || len(all.Records) != 80 {
			t.Fatalf("after reopen: %d records at %d", len(all.Records), all.First)
		}
		checkIDs(t, all, 20)
		appendIDs(t, s, 100, 5, 80)
		nb := next(t, s, 10, 1<<20)
		if nb.First != all.Last()+1 || !bytes.Equal(nb.Records[0], rec(100, 80)) {
			t.Fatalf("new append after reopen at %d", nb.First)
		}
	})
}

func TestMemoryConformance(t *testing.T) {
	runConformance(t, impl{
		name:  "memory",
		exact: true,
		open: func(t *testing.T, dir string, lim limits) Store {
			return NewMemory(MemoryOptions{MaxRecords: lim.records, MaxBytes: lim.bytes, Overflow: lim.overflow})
		},
	})
}

func TestMemoryHugeBatch(t *testing.T) {
	m := NewMemory(MemoryOptions{MaxRecords: 10})
	recs := make([][]byte, 25)
	for i := range recs {
		recs[i] = rec(i, 20)
	}
	if err := m.Append(recs); err != nil {
		t.Fatal(err)
	}
	b := next(t, m, 100, 1<<20)
	if b.First != 16 || len(b.Records) != 10 {
		t.Fatalf("kept %d records from %d", len(b.Records), b.First)
	}
	checkIDs(t, b, 15)
	if st := m.Stats(); st.Dropped != 15 || st.Appended != 25 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLogConformance(t *testing.T) {
	for _, sync := range []wal.Sync{wal.SyncBatch, wal.SyncInterval, wal.SyncNever} {
		t.Run(sync.String(), func(t *testing.T) {
			runConformance(t, impl{
				name:       "wal",
				persistent: true,
				open: func(t *testing.T, dir string, lim limits) Store {
					s, err := OpenLog(dir, wal.Options{
						MaxRecords:   int64(lim.records),
						MaxBytes:     lim.bytes,
						SegmentBytes: 4 << 10,
						Overflow:     lim.overflow,
						Sync:         sync,
						SyncInterval: 10 * time.Millisecond,
					})
					if err != nil {
						t.Fatal(err)
					}
					return s
				},
			})
		})
	}
}
