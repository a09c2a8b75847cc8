// Package poll schedules the periodic reads of polling connectors (Modbus
// masters, SNMP managers, BACnet clients, HTTP pullers, SQL queries...):
// one timer heap for all jobs and a fixed number of workers, so a
// thousand devices cost a handful of goroutines and one timer.
//
// A job is never started again before its previous run returned, so a
// slow device delays only itself. After a failure the next run is delayed
// by the period, doubled from the second consecutive failure on, up to
// MaxBackoff (never below the period). Device up/down edges, per device
// name across its jobs, become sink.Connect and sink.Disconnect. With no
// jobs the scheduler holds no timer. A panic in a job ends Run with a
// *kit.PanicError-like error, which makes the supervisor restart the
// connector.
//
// Non-goals: sending the polled data (the job does, usually through
// kit.Sender) and cron-like calendars.
package poll

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// Job is one periodic read.
type Job struct {
	Name   string        // device name: edges, logs and Remove
	Type   string        // device type for Connect ("" = default)
	Period time.Duration // between starts; <= 0 runs once
	// Poll reads the device once. A nil return means the device answered;
	// an error means it did not (logged once per outage, then at debug).
	// Errors that mean "answered, but with nothing" should return nil.
	Poll func(ctx context.Context) error
	// NoEdges: the job's result says nothing about the device being up.
	NoEdges bool
	// NoBackoff: failures keep the period (the job applies a retry policy
	// of its own, such as Modbus' connectAttempt settings).
	NoBackoff bool
}

// Options configure a scheduler. Zero fields take the defaults noted.
type Options struct {
	Workers    int            // concurrent runs; default 4
	Sink       connector.Sink // receives Connect/Disconnect edges; nil: none
	Log        *slog.Logger
	MaxBackoff time.Duration // cap of the failure back-off; default 1 min
	// OnUp / OnDown, when set, are called on edges as well (after the sink).
	OnUp, OnDown func(name string)
	// AnnounceDown: a device whose first poll fails is reported gone once
	// (Disconnect), as upstream's Modbus connector does; otherwise only a
	// device that was up is.
	AnnounceDown bool
}

// Unchanged, returned by a job, means "ran as planned but says nothing
// about the device" (it answered, with nothing usable): the job keeps its
// period and the device's up/down state stays as it was.
var Unchanged = errors.New("poll: device state unchanged")

// PanicError is a recovered panic of a job.
type PanicError struct {
	Job   string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in poll of %s: %v", e.Job, e.Value) }

type entry struct {
	job      Job
	next     time.Time
	failures int
	up       bool
	running  bool
	kicked   bool // Kick while running: run again at once
	removed  bool
	index    int // in the heap; -1 when not queued
}

type queue []*entry

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i]; q[i].index = i; q[j].index = j }
func (q *queue) Push(x any)        { e := x.(*entry); e.index = len(*q); *q = append(*q, e) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

// Scheduler runs jobs. Add and Remove may be called before and during Run.
type Scheduler struct {
	o    Options
	wake chan struct{}

	mu      sync.Mutex
	q       queue
	byName  map[string][]*entry
	upCount map[string]int
	seen    map[string]bool // names with at least one result
}

// New returns a scheduler.
func New(o Options) *Scheduler {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{o: o, wake: make(chan struct{}, 1), byName: map[string][]*entry{}, upCount: map[string]int{}, seen: map[string]bool{}}
}

// Add schedules j to run now and then every Period.
func (s *Scheduler) Add(j Job) {
	s.mu.Lock()
	e := &entry{job: j, next: time.Now()}
	heap.Push(&s.q, e)
	s.byName[j.Name] = append(s.byName[j.Name], e)
	s.mu.Unlock()
	s.poke()
}

// Remove drops every job of name; a run in progress finishes first.
func (s *Scheduler) Remove(name string) {
	s.mu.Lock()
	for _, e := range s.byName[name] {
		e.removed = true
		if e.index >= 0 {
			heap.Remove(&s.q, e.index)
		}
	}
	delete(s.byName, name)
	s.mu.Unlock()
	s.poke()
}

// Kick makes the jobs of name due now (a device signalled new data); a
// job that is running runs again as soon as it returns.
func (s *Scheduler) Kick(name string) {
	s.mu.Lock()
	now := time.Now()
	for _, e := range s.byName[name] {
		switch {
		case e.index >= 0 && e.next.After(now):
			e.next = now
			heap.Fix(&s.q, e.index)
		case e.running:
			e.kicked = true
		}
	}
	s.mu.Unlock()
	s.poke()
}

// Up tells whether any job of name last succeeded.
func (s *Scheduler) Up(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upCount[name] > 0
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Backoff is the delay before the next run after n consecutive failures.
func Backoff(period, limit time.Duration, n int) time.Duration {
	if n <= 1 {
		return period
	}
	limit = max(period, limit)
	d := period << min(n-1, 16)
	if d <= 0 || d > limit {
		return limit
	}
	return d
}

// Run dispatches jobs until ctx is done, then waits for the runs in
// progress. It returns nil after cancellation, or the first job panic.
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *entry)
	var (
		wg       sync.WaitGroup
		panicMu  sync.Mutex
		panicErr error
	)
	for range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				start := time.Now()
				err := s.call(ctx, e)
				if pe, ok := err.(*PanicError); ok {
					panicMu.Lock()
					if panicErr == nil {
						panicErr = pe
					}
					panicMu.Unlock()
					cancel()
				}
				s.finish(ctx, e, start, err)
				s.poke()
			}
		}()
	}

	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var pending *entry // due, waiting for a free worker
	for {
		var timerC <-chan time.Time
		var workC chan *entry
		if pending == nil {
			s.mu.Lock()
			if len(s.q) > 0 {
				top := s.q[0]
				if d := time.Until(top.next); d <= 0 {
					heap.Pop(&s.q)
					top.running = true
					pending = top
				} else {
					if timer == nil {
						timer = time.NewTimer(d)
					} else {
						timer.Reset(d)
					}
					timerC = timer.C
				}
			}
			s.mu.Unlock()
		}
		if pending != nil {
			workC = work
		}
		select {
		case <-ctx.Done():
			close(work)
			wg.Wait()
			panicMu.Lock()
			defer panicMu.Unlock()
			return panicErr
		case workC <- pending:
			pending = nil
		case <-timerC:
		case <-s.wake:
			if timer != nil && !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

func (s *Scheduler) call(ctx context.Context, e *entry) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Job: e.job.Name, Value: v, Stack: debug.Stack()}
		}
	}()
	return e.job.Poll(ctx)
}

// finish records a run's outcome, sends edges and requeues the job.
func (s *Scheduler) finish(ctx context.Context, e *entry, start time.Time, err error) {
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	e.running = false
	wasUp := e.up
	if errors.Is(err, Unchanged) {
		err = nil
		e.failures = 0
		e.next = start.Add(e.job.Period)
		if now := time.Now(); e.next.Before(now) {
			e.next = now
		}
	} else if err != nil {
		e.failures++
		e.up = false
		if e.failures == 1 {
			s.o.Log.Warn("device does not answer", "device", e.job.Name, "err", err)
		} else {
			s.o.Log.Debug("device still does not answer", "device", e.job.Name, "failures", e.failures, "err", err)
		}
		retry := e.job.Period
		if retry <= 0 {
			retry = time.Second // a run-once job retries
		}
		if e.job.NoBackoff {
			e.next = start.Add(retry)
		} else {
			e.next = time.Now().Add(Backoff(retry, s.o.MaxBackoff, e.failures))
		}
	} else {
		if e.failures > 0 {
			s.o.Log.Info("device answers again", "device", e.job.Name, "after", e.failures)
		}
		e.failures = 0
		e.up = true
		e.next = start.Add(e.job.Period)
		if now := time.Now(); e.next.Before(now) {
			e.next = now
		}
	}
	if e.kicked {
		e.kicked = false
		e.next = time.Now()
	}
	var edge int // +1 up, -1 down
	first := !s.seen[e.job.Name]
	s.seen[e.job.Name] = true
	if !e.job.NoEdges && first && err != nil && s.o.AnnounceDown && s.upCount[e.job.Name] == 0 {
		edge = -1
	}
	if !e.job.NoEdges && e.up != wasUp {
		if e.up {
			s.upCount[e.job.Name]++
			if s.upCount[e.job.Name] == 1 {
				edge = 1
			}
		} else {
			s.upCount[e.job.Name]--
			if s.upCount[e.job.Name] == 0 {
				edge = -1
			}
		}
	}
	if !e.removed && (e.job.Period > 0 || err != nil) {
		heap.Push(&s.q, e)
	}
	s.mu.Unlock()
	switch edge {
	case 1:
		if s.o.Sink != nil {
			if err := s.o.Sink.Connect(ctx, e.job.Name, e.job.Type); err != nil && ctx.Err() == nil {
				s.o.Log.Debug("connect", "device", e.job.Name, "err", err)
			}
		}
		if s.o.OnUp != nil {
			s.o.OnUp(e.job.Name)
		}
	case -1:
		if s.o.Sink != nil {
			if err := s.o.Sink.Disconnect(ctx, e.job.Name); err != nil && ctx.Err() == nil {
				s.o.Log.Debug("disconnect", "device", e.job.Name, "err", err)
			}
		}
		if s.o.OnDown != nil {
			s.o.OnDown(e.job.Name)
		}
	}
}
