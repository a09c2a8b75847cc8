package rig

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a latency histogram with logarithmic buckets (16 per power of
// two, so a quantile is off by at most 1/16 of its value). It is safe for
// concurrent use and takes a fixed 8 KiB.
type Hist struct {
	b [64 * 16]atomic.Uint64
	n atomic.Uint64
}

func bucket(ns uint64) int {
	if ns < 16 {
		return int(ns)
	}
	e := bits.Len64(ns) - 1 // 2^e <= ns < 2^(e+1)
	m := (ns >> (e - 4)) & 15
	return e*16 + int(m)
}

// lower returns the smallest value of bucket i.
func lower(i int) uint64 {
	if i < 64 { // buckets 16..63 are never used
		return uint64(min(i, 16))
	}
	e, m := i/16, uint64(i%16)
	return (16 + m) << (e - 4)
}

// Add records one latency; negative values count as 0.
func (h *Hist) Add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.b[bucket(uint64(d))].Add(1)
	h.n.Add(1)
}

// Count returns the number of recorded values.
func (h *Hist) Count() uint64 { return h.n.Load() }

// Reset forgets every value.
func (h *Hist) Reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
	h.n.Store(0)
}

// Quantile returns the q-quantile (0 < q <= 1) as the middle of its bucket,
// 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= rank {
			lo, hi := lower(i), lower(i+1)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return time.Duration(lower(len(h.b) - 1))
}
