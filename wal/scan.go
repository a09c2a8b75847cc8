package wal

import (
	"errors"
	"fmt"
)

// errLost marks positions whose bytes a resynchronisation skipped.
var errLost = errors.New("record lost in damaged bytes")

// Scanner walks the image of one segment file record position by record
// position, classifying each as intact, tombstone or damaged, and
// resynchronising after damaged bytes by looking for the next intact record
// (records carry their sequence number, so the number of positions lost in
// between is known). It never panics, whatever the input.
//
//	sc := newScanner(img, first)
//	for sc.Next() {
//		sc.Seq(), sc.Record(), sc.Damage()
//	}
//	sc.Err()
type Scanner struct {
	buf  []byte
	off  int    // offset of the next entry
	hdr  header // segment header
	next uint64 // sequence number of the next position
	gap  uint64 // positions before gap are lost (resynchronised past them)
	err  error  // unusable header or trailing garbage; sticky
	// hdrErr is why the header was replaced by one made from the name.
	hdrErr error

	seq   uint64 // current position
	rec   []byte // current payload, nil if none
	entry []byte // current raw tidwall entry, nil when damaged
	dmg   error  // why the current position is damaged
	good  int    // offset after the last intact entry
	first int    // offset of the first damage, -1 if none
}

// newScanner parses the header of img. first is the segment's first
// sequence number as its directory name says, or 0 if unknown: when it is
// known, a damaged header does not stop the scan (records carry their own
// sequence numbers) and a repair writes a new header.
func newScanner(img []byte, first uint64) *Scanner {
	s := &Scanner{buf: img, first: -1}
	data, n, ok := nextEntry(img)
	var err error
	if ok {
		s.hdr, err = parseHeader(data)
	} else {
		err = fmt.Errorf("%w: no segment header", errFrame)
	}
	if err == nil && first != 0 && s.hdr.first != first {
		err = fmt.Errorf("%w: header says first record %d, the name %d", errFrame, s.hdr.first, first)
	}
	switch {
	case err == nil:
		s.off, s.good, s.next = n, n, s.hdr.first
	case errors.Is(err, errNewer) || first == 0:
		s.hdr, s.err = header{}, err
	default:
		s.hdrErr = err
		s.hdr = header{version: FormatVersion, first: first}
		s.next = first
		s.markDamage(0)
		if ok && len(data) == headerLen {
			s.off = n // the damaged header's entry is intact: skip it
		}
	}
	return s
}

// Header returns the segment's first sequence number and format version.
func (s *Scanner) Header() (first uint64, version uint16) { return s.hdr.first, s.hdr.version }

// Next advances to the next record position.
func (s *Scanner) Next() bool {
	s.rec, s.entry, s.dmg = nil, nil, nil
	if s.err != nil && s.hdr.first == 0 {
		return false
	}
	if s.next < s.gap {
		s.seq, s.dmg = s.next, errLost
		s.next++
		return true
	}
	if s.off >= len(s.buf) {
		return false
	}
	data, n, ok := nextEntry(s.buf[s.off:])
	if ok {
		if seq, intact := frameSeq(data); intact && seq != s.next {
			ok = false // out of place: treat as garbage and resynchronise
		}
	}
	if !ok {
		if !s.resync() {
			return false
		}
		return s.Next()
	}
	s.seq = s.next
	s.next++
	s.rec, s.dmg = checkFrame(data, s.seq)
	switch s.dmg {
	case nil, errTombstone:
		s.entry = s.buf[s.off : s.off+n]
		s.good = s.off + n
	default:
		s.markDamage(s.off)
	}
	s.off += n
	return true
}

func (s *Scanner) markDamage(off int) {
	if s.first < 0 {
		s.first = off
	}
}

// resync looks for the next intact record after damaged bytes at s.off.
func (s *Scanner) resync() bool {
	s.markDamage(s.off)
	for q := s.off + 1; q < len(s.buf); q++ {
		data, _, ok := nextEntry(s.buf[q:])
		if !ok {
			continue
		}
		seq, intact := frameSeq(data)
		// Every lost record took at least one entry of frameLen+1 bytes.
		if !intact || seq < s.next || seq-s.next > uint64(q-s.off)/(frameLen+1)+1 {
			continue
		}
		s.off, s.gap = q, seq
		return true
	}
	s.err = fmt.Errorf("%w: %d damaged bytes at offset %d", errFrame, len(s.buf)-s.off, s.off)
	s.off = len(s.buf)
	return false
}

// Seq is the sequence number of the current position.
func (s *Scanner) Seq() uint64 { return s.seq }

// Record is the current payload (a sub-slice of the image), nil when the
// position is damaged or a tombstone.
func (s *Scanner) Record() []byte { return s.rec }

// Damage tells why the current position holds no record, nil if it does.
func (s *Scanner) Damage() error { return s.dmg }

// Err reports a bad header or trailing bytes no record could be found in.
func (s *Scanner) Err() error { return s.err }

// repairPlan says how to mend a segment file image.
type repairPlan struct {
	first   uint64 // segment's first sequence number
	records int    // positions the repaired segment holds
	damaged int    // positions found damaged, kept as tombstones or cut off
	cut     int    // offset of the first damaged byte, -1 if none
	img     []byte // repaired image; nil when truncating img to size suffices
	size    int    // size of the repaired file
}

// planRepair scans img, the file of the segment whose name says it starts
// at first (0: unknown), and decides how to repair it. Damaged positions
// followed by intact ones become tombstones (so sequence numbers stay
// positional); damage after the last intact position is cut off; a damaged
// header is rewritten from the name. An unusable header (unknown first, or
// a newer format) is returned as an error.
func planRepair(img []byte, first uint64) (repairPlan, error) {
	sc := newScanner(img, first)
	if sc.hdr.first == 0 {
		return repairPlan{}, sc.Err()
	}
	p := repairPlan{first: sc.hdr.first, cut: -1}
	type pos struct {
		entry []byte
		seq   uint64
	}
	var kept []pos // positions up to the last intact one
	var pending []uint64
	tombstones := false
	for sc.Next() {
		if sc.Damage() != nil && sc.entry == nil {
			pending = append(pending, sc.Seq())
			continue
		}
		for _, seq := range pending {
			kept = append(kept, pos{seq: seq})
			tombstones = true
		}
		p.damaged += len(pending)
		pending = pending[:0]
		kept = append(kept, pos{entry: sc.entry, seq: sc.Seq()})
	}
	p.damaged += len(pending)
	p.records = len(kept)
	p.cut = sc.first
	p.size = sc.good
	if p.cut < 0 && sc.err == nil {
		p.size = len(img)
		return p, nil
	}
	if p.cut < 0 {
		p.cut = sc.good
	}
	if !tombstones && sc.hdrErr == nil && p.cut >= sc.good {
		return p, nil // damage only after the last intact entry: truncate
	}
	out := appendEntry(nil, appendHeader(nil, sc.hdr))
	var tomb []byte
	for _, k := range kept {
		if k.entry != nil {
			out = append(out, k.entry...)
			continue
		}
		tomb = appendTombstone(tomb[:0], k.seq)
		out = appendEntry(out, tomb)
	}
	p.img, p.size = out, len(out)
	return p, nil
}
