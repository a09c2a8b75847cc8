package wal

import (
	"os"
	"path/filepath"
	"testing"
)

// cursorImage is a two-slot cursor file with the given slot contents
// (nil: zeros).
func cursorImage(s0, s1 []byte) []byte {
	img := make([]byte, cursorFileLen)
	copy(img, s0)
	copy(img[cursorSlot:], s1)
	return img
}

func TestDecodeCursorFile(t *testing.T) {
	torn := encodeCursor(70)
	torn[15] ^= 0x40 // a bit of acked: the checksum no longer matches
	for _, c := range []struct {
		name  string
		b     []byte
		acked uint64
		slot  int
		bad   bool
	}{
		{name: "one record, the older layout", b: encodeCursor(42), acked: 42, slot: -1},
		{name: "both slots, the second newer", b: cursorImage(encodeCursor(50), encodeCursor(60)), acked: 60, slot: 1},
		{name: "both slots, the first newer", b: cursorImage(encodeCursor(80), encodeCursor(60)), acked: 80, slot: 0},
		{name: "equal slots (a new file)", b: cursorImage(encodeCursor(5), encodeCursor(5)), acked: 5, slot: 0},
		{name: "second slot torn", b: cursorImage(encodeCursor(50), torn), acked: 50, slot: 0},
		{name: "first slot torn", b: cursorImage(torn, encodeCursor(60)), acked: 60, slot: 1},
		{name: "second slot never written", b: cursorImage(encodeCursor(50), nil), acked: 50, slot: 0},
		{name: "both slots damaged", b: cursorImage(torn, torn), bad: true},
		{name: "empty", b: nil, bad: true},
		{name: "cut short", b: cursorImage(encodeCursor(1), encodeCursor(2))[:cursorSlot+10], bad: true},
	} {
		acked, slot, err := decodeCursorFile(c.b)
		if c.bad {
			if err == nil {
				t.Errorf("%s: decoded %d from slot %d, want an error", c.name, acked, slot)
			}
			continue
		}
		if err != nil || acked != c.acked || slot != c.slot {
			t.Errorf("%s: %d from slot %d (%v), want %d from slot %d", c.name, acked, slot, err, c.acked, c.slot)
		}
	}
}

// TestCursorWrittenInPlace: after the file exists, cursor writes go into
// the same file (no temporary file, no rename), alternating slots, and a
// reopened log starts after the newest.
func TestCursorWrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, cursorName)
	l := openLog(t, dir, small)
	appendIDs(t, l, 0, 100)
	var first os.FileInfo
	for i, ack := range []uint64{10, 20, 30, 40} {
		if err := l.Ack(ack); err != nil {
			t.Fatal(err)
		}
		if err := l.persistCursor(true); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != cursorFileLen || st.Mode().Perm() != 0o640 {
			t.Fatalf("cursor file %d bytes, mode %v", st.Size(), st.Mode())
		}
		if i == 0 {
			first = st
		} else if !os.SameFile(first, st) {
			t.Fatalf("write %d replaced the cursor file", i+1)
		}
		b, _ := os.ReadFile(path)
		if got, slot, err := decodeCursorFile(b); err != nil || got != ack || slot != i%2 {
			t.Fatalf("write %d: %d in slot %d (%v), want %d in slot %d", i+1, got, slot, err, ack, i%2)
		}
	}
	if _, err := os.Stat(path + tmpSuffix); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	l.Close()
	l = openLog(t, dir, small)
	if items := readPending(t, l); len(items) != 60 || items[0].seq != 41 {
		t.Fatalf("after reopen: %d records from %+v", len(items), items[0])
	}
}

// TestCursorTornWrite: a power cut while a slot was written leaves the
// other one, the value before: those records come again, none is lost.
func TestCursorTornWrite(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, small)
	appendIDs(t, l, 0, 100)
	for _, ack := range []uint64{30, 50} {
		if err := l.Ack(ack); err != nil {
			t.Fatal(err)
		}
		if err := l.persistCursor(true); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// 30 went to slot 0 (the new file), 50 to slot 1: tear slot 1.
	path := filepath.Join(dir, cursorName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[cursorSlot+13] ^= 0xff
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, small)
	items := readPending(t, l)
	if len(items) != 70 || items[0].seq != 31 {
		t.Fatalf("after a torn slot: %d records from %+v", len(items), items[0])
	}
	if l.Stats().Corrupt != 0 {
		t.Fatalf("a torn slot with the other intact counted as damage: %+v", l.Stats())
	}
	// The next write goes to the torn slot, and wins.
	if err := l.Ack(60); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, _ = os.ReadFile(path)
	if got, slot, err := decodeCursorFile(b); err != nil || got != 60 || slot != 1 {
		t.Fatalf("after the torn slot: %d in slot %d (%v)", got, slot, err)
	}
}

// TestCursorOlderLayout: the one-record cursor file of earlier releases
// is read, and replaced by the two-slot file at the first write.
func TestCursorOlderLayout(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, small)
	appendIDs(t, l, 0, 100)
	l.Close()
	path := filepath.Join(dir, cursorName)
	if err := os.WriteFile(path, encodeCursor(25), 0o640); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, small)
	if items := readPending(t, l); len(items) != 75 || items[0].seq != 26 {
		t.Fatalf("older cursor file: %d records from %+v", len(items), items[0])
	}
	if err := l.Ack(40); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, _ := os.ReadFile(path)
	if got, _, err := decodeCursorFile(b); err != nil || got != 40 || len(b) != cursorFileLen {
		t.Fatalf("after a write: %d bytes, %d (%v)", len(b), got, err)
	}
}

// TestCursorWriteRecovers: a failed in-place write is reported, and the
// next write starts a new file through a temporary file.
func TestCursorWriteRecovers(t *testing.T) {
	dir := t.TempDir()
	c := cursorFile{slot: -1}
	defer c.close()
	if err := c.write(dir, 7, true); err != nil {
		t.Fatal(err)
	}
	c.f.Close() // the in-place write fails
	if err := c.write(dir, 8, true); err == nil {
		t.Fatal("a write to a closed file succeeded")
	}
	if err := c.write(dir, 9, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, cursorName))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := decodeCursorFile(b); err != nil || got != 9 {
		t.Fatalf("after a failed write: %d (%v)", got, err)
	}
}
