package rig

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tbgw/tbgw/codec/tbjson"
)

// Damage to the tail of the gateway's write-ahead log, for the chaos
// scenarios. The on-disk facts used (see package wal): the log directory
// holds segment directories seg-<first seq, 20 digits>, each with one file
// 00000000000000000001 of entries uvarint(len) + data; the first entry is
// a 24-byte header, every other one a record frame, length u32 | crc u32 |
// seq u64 | payload (little endian), whose payload is a codec/tbjson record.

// WALRecord is one record frame found in a segment file.
type WALRecord struct {
	Off, End int64  // the entry's bytes in the file
	Seq      uint64 // the log's sequence number
	Device   string // device of the event
	Msgs     []uint64
}

// LastSegment returns the file of the newest segment in a log directory.
func LastSegment(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var segs []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "seg-") && len(e.Name()) == 24 {
			segs = append(segs, e.Name())
		}
	}
	if len(segs) == 0 {
		return "", fmt.Errorf("no segment in %s", dir)
	}
	sort.Strings(segs)
	return filepath.Join(dir, segs[len(segs)-1], "00000000000000000001"), nil
}

// ReadSegment parses the record frames of a segment file, stopping at the
// first malformed entry.
func ReadSegment(path string) ([]WALRecord, error) {
	img, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []WALRecord
	off := 0
	for i := 0; off < len(img); i++ {
		n, k := binary.Uvarint(img[off:])
		if k <= 0 || uint64(len(img)-off-k) < n {
			break
		}
		data := img[off+k : off+k+int(n)]
		end := off + k + int(n)
		if i > 0 {
			if len(data) < 16 {
				break
			}
			r := WALRecord{Off: int64(off), End: int64(end), Seq: binary.LittleEndian.Uint64(data[8:])}
			if ev, err := tbjson.DecodeRecord(data[16:]); err == nil {
				r.Device = string(ev.Device)
				msg := append(append([]byte(`{"d":[`), ev.Telemetry...), "]}"...)
				_ = ScanTelemetry(msg, func(e *Entry) {
					if e.HasSeq {
						r.Msgs = append(r.Msgs, uint64(e.Seq))
					}
				})
			}
			out = append(out, r)
		}
		off = end
	}
	return out, nil
}

// TearTail appends what a write cut short by a power failure leaves: the
// start of one more record entry (its length prefix and part of a frame
// that claims the next sequence number). Nothing acknowledged is damaged.
func TearTail(path string) error {
	recs, err := ReadSegment(path)
	if err != nil {
		return err
	}
	next := uint64(1)
	if len(recs) > 0 {
		next = recs[len(recs)-1].Seq + 1
	}
	frame := make([]byte, 16+120)
	binary.LittleEndian.PutUint32(frame, 120)
	binary.LittleEndian.PutUint32(frame[4:], 0xdeadbeef)
	binary.LittleEndian.PutUint64(frame[8:], next)
	copy(frame[16:], `{"half written":`)
	entry := binary.AppendUvarint(nil, uint64(len(frame)))
	entry = append(entry, frame[:len(frame)/2]...) // torn in the middle
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(entry); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CorruptTail damages stored records of a segment: it flips bytes inside
// the payload of the third-last record and cuts the file in the middle of
// the last one. It returns the records it destroyed.
func CorruptTail(path string) ([]WALRecord, error) {
	recs, err := ReadSegment(path)
	if err != nil {
		return nil, err
	}
	if len(recs) < 3 {
		return nil, errors.New("corrupt tail: fewer than 3 records in the last segment")
	}
	flip, last := recs[len(recs)-3], recs[len(recs)-1]
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mid := flip.Off + (flip.End-flip.Off)*2/3
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, mid); err != nil {
		return nil, err
	}
	for i := range b {
		b[i] ^= 0x5a
	}
	if _, err := f.WriteAt(b, mid); err != nil {
		return nil, err
	}
	if err := f.Truncate(last.Off + (last.End-last.Off)/2); err != nil {
		return nil, err
	}
	return []WALRecord{flip, last}, f.Sync()
}
