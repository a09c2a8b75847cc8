package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync/atomic"
)

// The cursor file holds the highest acknowledged sequence number in two
// slots, cursorSlot bytes apart, each
//
//	"tbgw-cur" | version u16 | flags u16 | acked u64 | crc u32
//
// The newest valid slot counts. A write goes to the slot not holding the
// newest value, in place, followed by one fdatasync: a power cut during
// it can only damage that slot, and the other still holds the value
// before. The file's size never changes after it was created, so the
// fdatasync writes one data block and no metadata. (Before, the cursor
// was one 24-byte record in a file replaced through a temporary file:
// create, write, fsync, rename and a directory fsync for each write. That
// file is still read, and replaced by the two-slot file at the first
// write.)
const (
	cursorName    = "CURSOR"
	cursorLen     = 24
	cursorSlot    = 4096 // the second slot's offset: its own block and page
	cursorFileLen = cursorSlot + cursorLen
)

var cursorMagic = [8]byte{'t', 'b', 'g', 'w', '-', 'c', 'u', 'r'}

func encodeCursor(acked uint64) []byte {
	b := make([]byte, 0, cursorLen)
	b = append(b, cursorMagic[:]...)
	b = binary.LittleEndian.AppendUint16(b, FormatVersion)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, acked)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCursor(b []byte) (uint64, error) {
	if len(b) != cursorLen || [8]byte(b[:8]) != cursorMagic {
		return 0, errors.New("not a cursor file")
	}
	if crc32.Checksum(b[:20], castagnoli) != binary.LittleEndian.Uint32(b[20:]) {
		return 0, fmt.Errorf("cursor: %w", errChecksum)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v == 0 || v > FormatVersion {
		return 0, fmt.Errorf("cursor format version %d, this build reads 1..%d", v, FormatVersion)
	}
	return binary.LittleEndian.Uint64(b[12:]), nil
}

// decodeCursorFile reads a cursor file's content: the newest valid slot
// of a two-slot file (slot 0 or 1), or the single record of the older
// layout (slot -1).
func decodeCursorFile(b []byte) (acked uint64, slot int, err error) {
	switch len(b) {
	case cursorLen:
		acked, err = decodeCursor(b)
		return acked, -1, err
	case cursorFileLen:
		v0, err0 := decodeCursor(b[:cursorLen])
		v1, err1 := decodeCursor(b[cursorSlot:])
		switch {
		case err0 != nil && err1 != nil:
			return 0, -1, err0
		case err1 != nil || err0 == nil && v0 >= v1:
			return v0, 0, nil
		}
		return v1, 1, nil
	}
	return 0, -1, errors.New("not a cursor file")
}

// readCursor returns the persisted cursor and the slot holding it (see
// decodeCursorFile); ok is false when there is none.
func readCursor(dir string) (acked uint64, slot int, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, cursorName))
	if errors.Is(err, os.ErrNotExist) {
		return 0, -1, false, nil
	}
	if err != nil {
		return 0, -1, false, err
	}
	acked, slot, err = decodeCursorFile(b)
	return acked, slot, err == nil, err
}

// cursorFile is the open cursor file written in place.
type cursorFile struct {
	f     *os.File
	slot  int         // the slot holding the newest value; -1: none usable
	quick atomic.Bool // the last fdatasync was quick (datasync)
}

// write persists acked in dir's cursor file: in the slot not holding the
// newest value, then fdatasync (durable). Without a usable two-slot file
// (none yet, the older layout, damage, a failed write) it creates one
// through a temporary file (both slots acked) and opens it.
func (c *cursorFile) write(dir string, acked uint64, durable bool) error {
	if c.f == nil && c.slot >= 0 {
		f, err := os.OpenFile(filepath.Join(dir, cursorName), os.O_WRONLY, 0)
		if err != nil {
			c.slot = -1
		} else {
			c.f = f
		}
	}
	rec := encodeCursor(acked)
	if c.f == nil {
		img := make([]byte, cursorFileLen)
		copy(img, rec)
		copy(img[cursorSlot:], rec)
		if err := writeFileAtomic(dir, cursorName, img, durable); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(dir, cursorName), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		c.f, c.slot = f, 0
		return nil
	}
	next := 1 - c.slot
	_, err := c.f.WriteAt(rec, int64(next*cursorSlot))
	if err == nil && durable {
		err = datasync(c.f, &c.quick)
	}
	if err != nil {
		// The slot may be half written: the next write starts afresh.
		c.close()
		return err
	}
	c.slot = next
	return nil
}

// close closes the file; the next write opens it again.
func (c *cursorFile) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
	c.slot = -1
}

// writeFileAtomic replaces dir/name with data through a temporary file.
func writeFileAtomic(dir, name string, data []byte, durable bool) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if durable {
		return syncDir(dir)
	}
	return nil
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
