package rig

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ledger accounts for every generated message: per device and sequence
// number, whether it was published, acknowledged by the device broker and
// delivered to ThingsBoard (how often, with which timestamp, after which
// latency). All methods are safe for concurrent use.
type Ledger struct {
	base time.Time
	// Lat holds the device-to-ThingsBoard latency of first deliveries.
	Lat Hist

	mu   sync.RWMutex
	devs map[string]*Device
	list []*Device

	sent, acked, delivered, dups, points, unknown, raw atomic.Uint64
}

// Raw counts datapoints of telemetry entries whatever their device, for
// sources without sequence numbers (polled devices).
func (l *Ledger) Raw(points int) { l.raw.Add(uint64(points)) }

// NewLedger returns an empty ledger whose clock starts now.
func NewLedger() *Ledger {
	return &Ledger{base: time.Now(), devs: map[string]*Device{}}
}

// Now is the ledger clock (monotonic nanoseconds since NewLedger) that
// messages carry as their send time.
func (l *Ledger) Now() int64 { return int64(time.Since(l.base)) }

// Since is the time elapsed since t on the ledger clock.
func (l *Ledger) Since(t time.Duration) time.Duration { return time.Duration(l.Now()) - t }

// Device is one generated device.
type Device struct {
	Name string
	// Probe devices carry readiness probes; Account and the counters
	// leave them out.
	Probe bool

	mu        sync.Mutex
	next      uint64
	sent      bitset
	acked     bitset
	got       bitset
	excused   bitset  // destroyed on purpose by a scenario: Covered does not wait for them
	ts        []int64 // timestamp of the first delivery, by seq
	ackAt     []int64 // ledger time of the acknowledgement, by seq
	dups      uint64
	gotPrefix uint64 // every seq below was delivered
	ackMax    int64  // highest acknowledged seq, -1 if none
}

// Device returns the named device, creating it.
func (l *Ledger) Device(name string) *Device {
	l.mu.RLock()
	d := l.devs[name]
	l.mu.RUnlock()
	if d != nil {
		return d
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if d = l.devs[name]; d == nil {
		d = &Device{Name: name, ackMax: -1}
		l.devs[name] = d
		l.list = append(l.list, d)
	}
	return d
}

// Devices returns the non-probe devices.
func (l *Ledger) Devices() []*Device {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*Device, 0, len(l.list))
	for _, d := range l.list {
		if !d.Probe {
			out = append(out, d)
		}
	}
	return out
}

// Next reserves the device's next sequence number and marks it sent.
func (l *Ledger) Next(d *Device) uint64 {
	d.mu.Lock()
	seq := d.next
	d.next++
	d.sent.set(seq)
	d.mu.Unlock()
	if !d.Probe {
		l.sent.Add(1)
	}
	return seq
}

// Acked records the device broker's acknowledgement of seq.
func (l *Ledger) Acked(d *Device, seq uint64) {
	now := l.Now()
	d.mu.Lock()
	was := d.acked.set(seq)
	for uint64(len(d.ackAt)) <= seq {
		d.ackAt = append(d.ackAt, 0)
	}
	if !was {
		d.ackAt[seq] = now
	}
	if int64(seq) > d.ackMax {
		d.ackMax = int64(seq)
	}
	d.mu.Unlock()
	if !was && !d.Probe {
		l.acked.Add(1)
	}
}

// Deliver records that ThingsBoard received seq of the named device with
// timestamp ts, sent at sentNs (ledger clock), with points datapoints.
func (l *Ledger) Deliver(name []byte, seq uint64, ts, sentNs int64, points int) {
	l.mu.RLock()
	d := l.devs[string(name)]
	l.mu.RUnlock()
	if d == nil {
		l.unknown.Add(1)
		return
	}
	now := l.Now()
	d.mu.Lock()
	if !d.sent.get(seq) {
		d.mu.Unlock()
		l.unknown.Add(1)
		return
	}
	dup := d.got.set(seq)
	if dup {
		d.dups++
	} else {
		for uint64(len(d.ts)) <= seq {
			d.ts = append(d.ts, 0)
		}
		d.ts[seq] = ts
		d.advanceLocked()
	}
	d.mu.Unlock()
	if d.Probe {
		return
	}
	l.points.Add(uint64(points))
	if dup {
		l.dups.Add(1)
		return
	}
	l.delivered.Add(1)
	l.Lat.Add(time.Duration(now - sentNs))
}

func (d *Device) advanceLocked() {
	for d.got.get(d.gotPrefix) || d.excused.get(d.gotPrefix) {
		d.gotPrefix++
	}
}

// Excuse declares seq of the named device destroyed on purpose (by a
// scenario damaging the gateway's storage): Covered no longer waits for
// it. Account still counts it as lost when it is not delivered.
func (l *Ledger) Excuse(name string, seq uint64) {
	d := l.Device(name)
	d.mu.Lock()
	d.excused.set(seq)
	d.advanceLocked()
	d.mu.Unlock()
}

// Delivered reports whether seq of d reached ThingsBoard.
func (l *Ledger) Delivered(d *Device, seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got.get(seq)
}

// Counters are running totals over the non-probe devices.
type Counters struct {
	Sent, Acked, Delivered, Dups, Points, Unknown uint64
	// Raw is every telemetry datapoint ThingsBoard received.
	Raw uint64
}

// Counters returns the running totals.
func (l *Ledger) Counters() Counters {
	return Counters{Sent: l.sent.Load(), Acked: l.acked.Load(), Delivered: l.delivered.Load(),
		Dups: l.dups.Load(), Points: l.points.Load(), Unknown: l.unknown.Load(), Raw: l.raw.Load()}
}

// Mark is a snapshot of the highest acknowledged sequence number of every
// device, to wait until everything acknowledged up to then is delivered.
type Mark map[*Device]int64

// Mark takes the snapshot.
func (l *Ledger) Mark() Mark {
	m := Mark{}
	for _, d := range l.Devices() {
		d.mu.Lock()
		m[d] = d.ackMax
		d.mu.Unlock()
	}
	return m
}

// Covered reports whether every sequence number up to the mark of every
// device was delivered.
func (l *Ledger) Covered(m Mark) bool {
	for d, top := range m {
		d.mu.Lock()
		ok := int64(d.gotPrefix) > top
		d.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// Backlog is the number of acknowledged messages not yet delivered.
func (l *Ledger) Backlog() int64 {
	c := l.Counters()
	return int64(c.Acked) - int64(c.Delivered)
}

// Account is the exact verdict over every non-probe message.
type Account struct {
	Sent       uint64 // published by the generator
	Acked      uint64 // acknowledged by the device broker (accepted)
	Delivered  uint64 // distinct sequence numbers ThingsBoard received
	Lost       uint64 // acknowledged and never delivered
	Unaccepted uint64 // neither acknowledged nor delivered (not counted as loss)
	Dups       uint64 // deliveries beyond the first
	Overwrites uint64 // distinct messages delivered under a timestamp another message of the device already had
	LostSample []string
}

// Account computes the verdict. Call it when the generator and the gateway
// are quiet.
func (l *Ledger) Account() Account {
	var a Account
	for _, d := range l.Devices() {
		d.mu.Lock()
		a.Sent += d.sent.count()
		a.Acked += d.acked.count()
		a.Delivered += d.got.count()
		a.Dups += d.dups
		lost := d.acked.andNot(&d.got)
		a.Lost += uint64(len(lost))
		for _, s := range lost {
			if len(a.LostSample) < 10 {
				a.LostSample = append(a.LostSample, fmt.Sprintf("%s#%d", d.Name, s))
			}
		}
		for _, s := range d.sent.andNot(&d.acked) {
			if !d.got.get(s) {
				a.Unaccepted++
			}
		}
		tss := make([]int64, 0, len(d.ts))
		for seq, ts := range d.ts {
			if d.got.get(uint64(seq)) {
				tss = append(tss, ts)
			}
		}
		d.mu.Unlock()
		slices.Sort(tss)
		for i := 1; i < len(tss); i++ {
			if tss[i] == tss[i-1] {
				a.Overwrites++
			}
		}
	}
	return a
}

// LostSummary describes the lost messages per device: how many, which
// sequence numbers and when they were acknowledged (ledger time), for
// failure reports.
func (l *Ledger) LostSummary(devices int) string {
	var b strings.Builder
	n := 0
	for _, d := range l.Devices() {
		d.mu.Lock()
		lost := d.acked.andNot(&d.got)
		if len(lost) > 0 && n < devices {
			n++
			first, last := lost[0], lost[len(lost)-1]
			fmt.Fprintf(&b, "%s: %d lost, seq %d..%d acknowledged at %s..%s; delivered up to %d\n", d.Name, len(lost),
				first, last, time.Duration(d.ackAt[first]), time.Duration(d.ackAt[last]), d.gotPrefix)
		}
		d.mu.Unlock()
	}
	return b.String()
}

// Lost returns the lost messages as "device#seq", sorted, at most n.
func (l *Ledger) Lost(n int) []string {
	var out []string
	for _, d := range l.Devices() {
		d.mu.Lock()
		for _, s := range d.acked.andNot(&d.got) {
			out = append(out, fmt.Sprintf("%s#%d", d.Name, s))
		}
		d.mu.Unlock()
	}
	sort.Strings(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (a Account) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %d, accepted %d, delivered %d, lost %d, duplicates %d, overwritten %d, not accepted %d",
		a.Sent, a.Acked, a.Delivered, a.Lost, a.Dups, a.Overwrites, a.Unaccepted)
	if len(a.LostSample) > 0 {
		fmt.Fprintf(&b, " (lost: %s)", strings.Join(a.LostSample, " "))
	}
	return b.String()
}

// bitset is a growable set of sequence numbers.
type bitset []uint64

// set adds i and reports whether it was already there.
func (b *bitset) set(i uint64) bool {
	w := int(i / 64)
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	m := uint64(1) << (i % 64)
	was := (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

func (b *bitset) get(i uint64) bool {
	w := int(i / 64)
	return w < len(*b) && (*b)[w]&(1<<(i%64)) != 0
}

func (b *bitset) count() uint64 {
	var n int
	for _, w := range *b {
		n += bits.OnesCount64(w)
	}
	return uint64(n)
}

// andNot lists the members of b that are not in o.
func (b *bitset) andNot(o *bitset) []uint64 {
	var out []uint64
	for wi, w := range *b {
		if wi < len(*o) {
			w &^= (*o)[wi]
		}
		for w != 0 {
			t := bits.TrailingZeros64(w)
			out = append(out, uint64(wi)*64+uint64(t))
			w &^= 1 << t
		}
	}
	return out
}
