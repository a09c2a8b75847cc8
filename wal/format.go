package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk format, version 1.
//
// A segment is a tidwall/wal log holding a single segment file. Each tidwall
// entry is uvarint(len(data)) followed by data. Entry 1 is the segment
// header, entry k+2 holds the record with sequence number first+k:
//
//	header: "tbgw-wal" | version u16 | flags u16 | first seq u64 | crc u32
//	record: length u32 | crc u32 | seq u64 | payload
//
// All integers are little endian. Checksums are CRC32-C (Castagnoli); the
// header's covers the 20 bytes before it, a record's covers its length, seq
// and payload. A record whose length is tombstoneLen has no payload: it
// marks a record that a repair found destroyed.
const (
	FormatVersion = 1

	headerLen    = 24
	frameLen     = 16 // record bytes before the payload
	tombstoneLen = ^uint32(0)
	maxEntryLen  = 1 << 30
)

var magic = [8]byte{'t', 'b', 'g', 'w', '-', 'w', 'a', 'l'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame errors.
var (
	errTombstone = errors.New("record destroyed by an earlier repair")
	errChecksum  = errors.New("checksum mismatch")
	errFrame     = errors.New("malformed record")
	// errNewer marks data written by a later release in a format this one
	// cannot read.
	errNewer = errors.New("written in a newer format")
)

// header is the first entry of every segment.
type header struct {
	version uint16
	first   uint64 // sequence number of the segment's first record
}

func appendHeader(dst []byte, h header) []byte {
	dst = append(dst, magic[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, h.version)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, h.first)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[len(dst)-20:], castagnoli))
}

func parseHeader(b []byte) (header, error) {
	if len(b) != headerLen || [8]byte(b[:8]) != magic {
		return header{}, fmt.Errorf("%w: no segment header", errFrame)
	}
	if crc32.Checksum(b[:20], castagnoli) != binary.LittleEndian.Uint32(b[20:]) {
		return header{}, fmt.Errorf("segment header: %w", errChecksum)
	}
	h := header{version: binary.LittleEndian.Uint16(b[8:]), first: binary.LittleEndian.Uint64(b[12:])}
	if h.version == 0 || h.version > FormatVersion {
		return h, fmt.Errorf("%w: segment format version %d, this build reads 1..%d", errNewer, h.version, FormatVersion)
	}
	if h.first == 0 {
		return h, fmt.Errorf("%w: first sequence number 0", errFrame)
	}
	return h, nil
}

// frameSize is the size of the record frame holding n payload bytes.
func frameSize(n int) int { return frameLen + n }

// entrySize is the size a tidwall entry of n data bytes takes in a file.
func entrySize(n int) int64 {
	k := 1
	for x := uint64(n); x >= 0x80; x >>= 7 {
		k++
	}
	return int64(k + n)
}

func frameCRC(f []byte) uint32 {
	c := crc32.Update(0, castagnoli, f[0:4])
	return crc32.Update(c, castagnoli, f[8:])
}

// appendFrame appends the frame of record seq.
func appendFrame(dst []byte, seq uint64, payload []byte) []byte {
	p := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[p+4:], frameCRC(dst[p:]))
	return dst
}

// appendTombstone appends the frame standing in for destroyed record seq.
func appendTombstone(dst []byte, seq uint64) []byte {
	p := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, tombstoneLen)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	binary.LittleEndian.PutUint32(dst[p+4:], frameCRC(dst[p:]))
	return dst
}

// checkFrame validates the frame f of record seq and returns its payload.
// errChecksum and errFrame mean a damaged record, errTombstone one that an
// earlier repair found damaged.
func checkFrame(f []byte, seq uint64) ([]byte, error) {
	if len(f) < frameLen {
		return nil, errFrame
	}
	n := binary.LittleEndian.Uint32(f)
	if n != tombstoneLen && int64(n) != int64(len(f)-frameLen) || n == tombstoneLen && len(f) != frameLen {
		return nil, errFrame
	}
	if frameCRC(f) != binary.LittleEndian.Uint32(f[4:]) {
		return nil, errChecksum
	}
	if binary.LittleEndian.Uint64(f[8:]) != seq {
		return nil, errFrame
	}
	if n == tombstoneLen {
		return nil, errTombstone
	}
	return f[frameLen:], nil
}

// frameSeq returns the sequence number of an intact frame.
func frameSeq(f []byte) (uint64, bool) {
	if len(f) < frameLen {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(f)
	if n != tombstoneLen && int64(n) != int64(len(f)-frameLen) || n == tombstoneLen && len(f) != frameLen {
		return 0, false
	}
	if frameCRC(f) != binary.LittleEndian.Uint32(f[4:]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(f[8:]), true
}

// appendEntry appends data as a tidwall binary entry.
func appendEntry(dst, data []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	return append(dst, data...)
}

// nextEntry splits the tidwall entry at the start of b.
func nextEntry(b []byte) (data []byte, n int, ok bool) {
	size, k := binary.Uvarint(b)
	if k <= 0 || size > maxEntryLen || size > uint64(len(b)-k) {
		return nil, 0, false
	}
	return b[k : k+int(size)], k + int(size), true
}
