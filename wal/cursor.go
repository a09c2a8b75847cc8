package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The cursor file holds the highest acknowledged sequence number:
//
//	"tbgw-cur" | version u16 | flags u16 | acked u64 | crc u32
const (
	cursorName = "CURSOR"
	cursorLen  = 24
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

// readCursor returns the persisted cursor; ok is false when there is none.
func readCursor(dir string) (acked uint64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, cursorName))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	acked, err = decodeCursor(b)
	return acked, err == nil, err
}

// writeCursor persists acked: temp file, fsync, rename, fsync of dir. With
// durable false the fsyncs are left out (the rename is still atomic).
func writeCursor(dir string, acked uint64, durable bool) error {
	return writeFileAtomic(dir, cursorName, encodeCursor(acked), durable)
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
