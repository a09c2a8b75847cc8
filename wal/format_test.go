package wal

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// image builds a segment file image holding n records from first.
func image(first uint64, n int) (img []byte, ends []int) {
	img = appendEntry(nil, appendHeader(nil, header{version: FormatVersion, first: first}))
	for i := range n {
		img = appendEntry(img, appendFrame(nil, first+uint64(i), payload(i)))
		ends = append(ends, len(img))
	}
	return img, ends
}

func payload(i int) []byte {
	return fmt.Appendf(nil, "payload-%d-%s", i, bytes.Repeat([]byte{'x'}, i%40))
}

func scanAll(t *testing.T, img []byte) (recs map[uint64][]byte, damaged []uint64, err error) {
	t.Helper()
	recs = map[uint64][]byte{}
	sc := newScanner(img, 0)
	for sc.Next() {
		if sc.Damage() != nil {
			damaged = append(damaged, sc.Seq())
			continue
		}
		recs[sc.Seq()] = sc.Record()
	}
	return recs, damaged, sc.Err()
}

func TestFrameRoundTrip(t *testing.T) {
	f := appendFrame(nil, 42, []byte("hello"))
	if p, err := checkFrame(f, 42); err != nil || string(p) != "hello" {
		t.Fatalf("check: %q %v", p, err)
	}
	if _, err := checkFrame(f, 43); !errors.Is(err, errFrame) {
		t.Fatalf("wrong seq: %v", err)
	}
	f[len(f)-1] ^= 1
	if _, err := checkFrame(f, 42); !errors.Is(err, errChecksum) {
		t.Fatalf("flipped payload: %v", err)
	}
	if _, err := checkFrame(appendTombstone(nil, 7), 7); !errors.Is(err, errTombstone) {
		t.Fatalf("tombstone: %v", err)
	}
	if _, err := checkFrame(f[:10], 42); !errors.Is(err, errFrame) {
		t.Fatalf("short: %v", err)
	}
	h := appendHeader(nil, header{version: FormatVersion, first: 9})
	if got, err := parseHeader(h); err != nil || got.first != 9 {
		t.Fatalf("header: %+v %v", got, err)
	}
	h2 := appendHeader(nil, header{version: FormatVersion + 1, first: 9})
	if _, err := parseHeader(h2); !errors.Is(err, errNewer) {
		t.Fatalf("newer header: %v", err)
	}
	if n := entrySize(200); n != int64(len(appendEntry(nil, make([]byte, 200)))) {
		t.Fatalf("entrySize(200) = %d", n)
	}
	c := encodeCursor(1234)
	if v, err := decodeCursor(c); err != nil || v != 1234 {
		t.Fatalf("cursor: %d %v", v, err)
	}
	c[13] ^= 4
	if _, err := decodeCursor(c); err == nil {
		t.Fatal("flipped cursor accepted")
	}
}

func TestScannerIntact(t *testing.T) {
	img, _ := image(100, 50)
	recs, damaged, err := scanAll(t, img)
	if err != nil || len(damaged) != 0 || len(recs) != 50 {
		t.Fatalf("%d records, damaged %v, err %v", len(recs), damaged, err)
	}
	for i := range 50 {
		if !bytes.Equal(recs[100+uint64(i)], payload(i)) {
			t.Fatalf("record %d: %q", i, recs[100+uint64(i)])
		}
	}
	p, err := planRepair(img, 0)
	if err != nil || p.cut != -1 || p.records != 50 || p.size != len(img) {
		t.Fatalf("plan %+v %v", p, err)
	}
}

func TestRepairTruncatedEverywhere(t *testing.T) {
	img, ends := image(1, 20)
	hdr := ends[0] - len(appendEntry(nil, appendFrame(nil, 1, payload(0))))
	for cut := hdr; cut < len(img); cut++ {
		p, err := planRepair(img[:cut], 0)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		whole := 0
		for _, e := range ends {
			if e <= cut {
				whole++
			}
		}
		if p.records != whole || p.img != nil {
			t.Fatalf("cut %d: plan %+v, want %d records by truncation", cut, p, whole)
		}
		atBoundary := cut == hdr || whole > 0 && ends[whole-1] == cut
		if atBoundary != (p.cut < 0) {
			t.Fatalf("cut %d: damage reported at %d", cut, p.cut)
		}
	}
	if _, err := planRepair(img[:hdr-1], 0); err == nil {
		t.Fatal("torn header accepted")
	}
	// Knowing the first record from the name, a torn header is rewritten.
	if p, err := planRepair(img[:hdr-1], 1); err != nil || p.records != 0 || p.img == nil {
		t.Fatalf("torn header with a known first record: %+v %v", p, err)
	}
}

func TestRepairMidPayloadFlip(t *testing.T) {
	img, ends := image(1, 10)
	img[ends[3]+20] ^= 0x40 // inside record 5 (seq 5)
	recs, damaged, err := scanAll(t, img)
	if err != nil || len(recs) != 9 || len(damaged) != 1 || damaged[0] != 5 {
		t.Fatalf("%d records, damaged %v, err %v", len(recs), damaged, err)
	}
	p, err := planRepair(img, 0)
	if err != nil || p.records != 10 || p.damaged != 1 || p.img == nil {
		t.Fatalf("plan %+v %v", p, err)
	}
	recs, damaged, err = scanAll(t, p.img)
	if err != nil || len(recs) != 9 || len(damaged) != 1 || damaged[0] != 5 {
		t.Fatalf("repaired: %d records, damaged %v, err %v", len(recs), damaged, err)
	}
	if again, _ := planRepair(p.img, 0); again.cut != -1 {
		// Tombstones are intact entries: nothing more to repair.
		t.Fatalf("repaired image needs repair again: %+v", again)
	}
}

func TestRepairLengthDamageResyncs(t *testing.T) {
	img, ends := image(1, 10)
	img[ends[3]] = 0xff // uvarint length of record 5: continuation garbage
	img[ends[3]+1] = 0xff
	recs, damaged, err := scanAll(t, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 || len(damaged) != 1 || damaged[0] != 5 {
		t.Fatalf("%d records, damaged %v", len(recs), damaged)
	}
	for s := uint64(6); s <= 10; s++ {
		if !bytes.Equal(recs[s], payload(int(s-1))) {
			t.Fatalf("record %d after resync: %q", s, recs[s])
		}
	}
}

func TestRepairTrailingGarbage(t *testing.T) {
	img, _ := image(1, 5)
	n := len(img)
	img = append(img, 0, 0, 0, 0, 0, 0, 0)
	p, err := planRepair(img, 0)
	if err != nil || p.records != 5 || p.size != n || p.cut != n || p.img != nil {
		t.Fatalf("plan %+v %v", p, err)
	}
}

func FuzzScanner(f *testing.F) {
	img, ends := image(7, 12)
	f.Add(img)
	f.Add(img[:ends[4]+3])
	flipped := bytes.Clone(img)
	flipped[ends[2]+5] ^= 0xff
	f.Add(flipped)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, first := range []uint64{0, 7} {
			sc := newScanner(b, first)
			var n int
			for sc.Next() {
				if n++; n > len(b)+2 {
					t.Fatalf("more positions than bytes")
				}
				if sc.Damage() == nil && sc.Record() == nil {
					t.Fatal("intact position without record")
				}
			}
			p, err := planRepair(b, first)
			if err != nil {
				if first != 0 && !errors.Is(err, errNewer) {
					t.Fatalf("repair with a known first record: %v", err)
				}
				continue
			}
			fixed := p.img
			if fixed == nil {
				fixed = b[:p.size]
			}
			q, err := planRepair(fixed, first)
			if err != nil || q.cut != -1 || q.records != p.records {
				t.Fatalf("repair not idempotent: %+v then %+v, %v", p, q, err)
			}
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(99))
	f.Add([]byte("tbgw-cur"))
	f.Add(cursorImage(encodeCursor(3), encodeCursor(4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeCursor(b); err == nil && !bytes.Equal(encodeCursor(v), b) {
			t.Fatalf("decoded %d from %x, which does not re-encode", v, b)
		}
		v, slot, err := decodeCursorFile(b)
		if err != nil {
			return
		}
		// The value comes from a valid record in the slot named.
		off := 0
		if slot == 1 {
			off = cursorSlot
		}
		if w, err := decodeCursor(b[off : off+cursorLen]); err != nil || w != v {
			t.Fatalf("decoded %d from slot %d, which holds %d (%v)", v, slot, w, err)
		}
	})
}

func TestRepairDamagedHeader(t *testing.T) {
	img, _ := image(5, 10)
	for _, off := range []int{0, 3, 15, 24} {
		g := bytes.Clone(img)
		g[off] ^= 0xff
		p, err := planRepair(g, 5)
		if err != nil || p.records != 10 || p.damaged != 0 || p.img == nil {
			t.Fatalf("byte %d: plan %+v %v", off, p, err)
		}
		if !bytes.Equal(p.img, img) {
			t.Fatalf("byte %d: repaired image differs from the original", off)
		}
	}
}
