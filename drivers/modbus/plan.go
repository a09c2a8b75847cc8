package modbus

import (
	"sort"

	mb "github.com/tbgw/tbgw/codec/modbus"
)

// span is the objects one read tag needs.
type span struct {
	fc    byte
	addr  int
	count int
	cap   int // request size cap of this tag, 0 for the device default
	ref   int // index of the tag's reading
}

// block is one read request covering several spans.
type block struct {
	fc    byte
	start int
	qty   int
	spans []span
	regs  []uint16 // reused between polls
	bits  []bool
}

// planReads groups spans into requests: spans of one function code whose
// objects are no more than p.gap apart are read together while the request
// stays within the size limit (and within every member's own cap). With
// coalescing disabled every span is its own request.
func planReads(spans []span, p coalesceParams) []block {
	sorted := append([]span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.fc != b.fc {
			return a.fc < b.fc
		}
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		return a.count > b.count
	})
	var out []block
	cur := -1
	curCap := 0
	for _, s := range sorted {
		limit := p.maxRegs
		if mb.IsBitFunction(s.fc) {
			limit = p.maxBits
		}
		limit = min(limit, mb.MaxRead(s.fc))
		sCap := limit
		if s.cap > 0 {
			sCap = min(sCap, s.cap)
		}
		if cur >= 0 && p.enabled && s.fc == out[cur].fc {
			b := &out[cur]
			end := b.start + b.qty
			newEnd := max(end, s.addr+s.count)
			c := min(curCap, sCap)
			if s.addr-end <= p.gap && newEnd-b.start <= c {
				b.qty = newEnd - b.start
				b.spans = append(b.spans, s)
				curCap = c
				continue
			}
		}
		out = append(out, block{fc: s.fc, start: s.addr, qty: s.count, spans: []span{s}})
		cur = len(out) - 1
		curCap = sCap
	}
	return out
}

// split replaces block i by one block per span (after a device refused
// the combined request).
func split(blocks []block, i int) []block {
	b := blocks[i]
	parts := make([]block, 0, len(b.spans))
	for _, s := range b.spans {
		parts = append(parts, block{fc: s.fc, start: s.addr, qty: s.count, spans: []span{s}})
	}
	out := make([]block, 0, len(blocks)+len(parts)-1)
	out = append(out, blocks[:i]...)
	out = append(out, parts...)
	return append(out, blocks[i+1:]...)
}
