package gw

import (
	"os"
	"runtime"
	"time"
)

// procTuner lowers GOMAXPROCS to 1 while the gateway uses little CPU and
// restores it under load. At everyday rates every hand-over between
// goroutines (reader, worker, commit, uplink) woke a second thread that
// spun looking for work and went back to sleep: with one P the same
// anchor workload measured about a third less CPU per datapoint (271 →
// 163 ms per 1000 datapoints at 100 msg/s, 47.9 → 34.6 at 1000 msg/s).
// Above procsUp of a core it gives the runtime every P again, so high
// rates keep their parallelism.
//
// It is checked from the uplink's rounds (one goroutine), at most once
// per procsPeriod: no timer of its own, and nothing while idle (nor while
// ThingsBoard is away: ingest then runs on the Ps it had). It is off when
// GOMAXPROCS is set in the environment or there is one CPU.
type procTuner struct {
	max     int // GOMAXPROCS at start
	cur     int
	last    time.Time
	lastCPU time.Duration
}

const (
	procsPeriod = time.Second
	procsDown   = 0.30 // of a core: below, one P
	procsUp     = 0.60 // of a core: above, every P
)

func newProcTuner() *procTuner {
	n := runtime.GOMAXPROCS(0)
	if n <= 1 || os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	return &procTuner{max: n, cur: n}
}

// observe measures the CPU used since the previous check and sets
// GOMAXPROCS accordingly.
func (p *procTuner) observe(now time.Time) {
	if p == nil {
		return
	}
	if now.Sub(p.last) < procsPeriod {
		return
	}
	cpu := processCPU()
	if cpu == 0 {
		return
	}
	if !p.last.IsZero() {
		use := float64(cpu-p.lastCPU) / float64(now.Sub(p.last))
		if n := procsFor(p.cur, p.max, use); n != p.cur {
			runtime.GOMAXPROCS(n)
			p.cur = n
		}
	}
	p.last, p.lastCPU = now, cpu
}

// restore gives the runtime every P again (when the uplink ends).
func (p *procTuner) restore() {
	if p != nil && p.cur != p.max {
		runtime.GOMAXPROCS(p.max)
		p.cur = p.max
	}
}

// procsFor is the GOMAXPROCS for a load of use cores at cur Ps (of max).
func procsFor(cur, max int, use float64) int {
	switch {
	case cur > 1 && use < procsDown:
		return 1
	case cur == 1 && use > procsUp:
		return max
	}
	return cur
}
