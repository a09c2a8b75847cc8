package rig

import (
	"os"
	"slices"
	"time"
)

// Result is one row of a results table.
type Result struct {
	Scenario  string
	DPPerMsg  int
	Offered   float64 // datapoints/s acknowledged by the device broker (or produced)
	Delivered float64 // datapoints/s that reached ThingsBoard (first deliveries)
	Lost      uint64  // accepted messages never delivered (whole run)
	Dups      uint64  // duplicate deliveries (whole run)
	CPUPer1k  float64 // gateway CPU ms per 1000 delivered datapoints
	CPU       float64 // gateway CPU, % of one core
	HostCPU   float64 // whole machine CPU, % of all cores
	RigCPU    float64 // the rig and the device broker, % of one core
	PeakRSS   int64   // bytes
	SteadyRSS int64   // bytes: median over the measured window
	P50, P99  time.Duration
	// Wakeups is the gateway's context switches per second (all
	// threads): an idle process switches once per wake-up.
	Wakeups float64
	// Fsyncs is fsync + fdatasync calls per second, -1 if not counted
	// (perf missing or not permitted).
	Fsyncs float64
	// WrPerDP is the bytes the gateway wrote to storage per delivered
	// datapoint, -1 if unknown.
	WrPerDP float64
	// Written is the bytes written to storage per hour at the window's
	// rate, -1 if unknown.
	WrPerHour float64
	Note      string
}

// Window is a measurement in progress.
type Window struct {
	r        *Rig
	s        *Sampler
	start    time.Time
	c0       Counters
	u0       Usage
	hb0, ht0 time.Duration
	others   []int
	other0   time.Duration
	sw0, wb0 int64
	syncs    *SyncCounter
}

func cpuOf(pids []int) time.Duration {
	var sum time.Duration
	for _, p := range pids {
		if u, err := ReadUsage(p); err == nil {
			sum += u.CPU
		}
	}
	return sum
}

// StartWindow starts measuring the gateway sampled by s.
// The CPU time of the rig's own process and of the device broker is
// measured too.
func (r *Rig) StartWindow(s *Sampler) *Window {
	others := []int{os.Getpid()}
	if r.Dev != nil && r.Dev.Pid() != 0 {
		others = append(others, r.Dev.Pid())
	}
	w := &Window{r: r, s: s, start: time.Now(), c0: r.Led.Counters(), u0: s.Now(), others: others}
	w.other0 = cpuOf(others)
	w.sw0, w.wb0 = Switches(s.pid), WrittenBytes(s.pid)
	w.syncs = CountSyncs(s.pid)
	w.hb0, w.ht0 = HostCPU()
	r.Led.Lat.Reset()
	return w
}

// End closes the window and fills the rate, CPU, memory and latency
// columns of a result (dpPerMsg datapoints per generated message; 0 for
// data without sequence numbers: every datapoint ThingsBoard received
// counts as delivered, and Offered is left alone).
func (w *Window) End(res *Result, dpPerMsg int) {
	syncs := w.syncs.Stop()
	sw1, wb1 := Switches(w.s.pid), WrittenBytes(w.s.pid)
	c1, u1 := w.r.Led.Counters(), w.s.Now()
	hb1, ht1 := HostCPU()
	secs := time.Since(w.start).Seconds()
	res.DPPerMsg = dpPerMsg
	dp := float64(c1.Raw - w.c0.Raw)
	if dpPerMsg > 0 {
		res.Offered = float64(c1.Acked-w.c0.Acked) * float64(dpPerMsg) / secs
		dp = float64(c1.Delivered-w.c0.Delivered) * float64(dpPerMsg)
	}
	res.Delivered = dp / secs
	cpu := u1.CPU - w.u0.CPU
	res.CPU = 100 * cpu.Seconds() / secs
	if dp > 0 {
		res.CPUPer1k = cpu.Seconds() * 1000 / (dp / 1000)
	}
	res.Wakeups = float64(sw1-w.sw0) / secs
	res.Fsyncs, res.WrPerDP, res.WrPerHour = -1, -1, -1
	if syncs >= 0 {
		res.Fsyncs = float64(syncs) / secs
	}
	if w.wb0 >= 0 && wb1 >= w.wb0 {
		res.WrPerHour = float64(wb1-w.wb0) / secs * 3600
		if dp > 0 {
			res.WrPerDP = float64(wb1-w.wb0) / dp
		}
	}
	res.RigCPU = 100 * (cpuOf(w.others) - w.other0).Seconds() / secs
	if ht1 > w.ht0 {
		res.HostCPU = 100 * float64(hb1-w.hb0) / float64(ht1-w.ht0)
	}
	res.PeakRSS = w.s.Peak()
	var rss []int64
	for _, u := range w.s.Samples(w.start, time.Now()) {
		rss = append(rss, u.RSS)
	}
	if len(rss) > 0 {
		slices.Sort(rss)
		res.SteadyRSS = rss[len(rss)/2]
	}
	res.P50, res.P99 = w.r.Led.Lat.Quantile(0.5), w.r.Led.Lat.Quantile(0.99)
}
