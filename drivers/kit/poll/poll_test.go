package poll

import (
	"fmt"

	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

type edgeSink struct {
	connector.Sink
	mu     sync.Mutex
	events []string
}

func (s *edgeSink) Connect(_ context.Context, d, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, "+"+d)
	return nil
}

func (s *edgeSink) Disconnect(_ context.Context, d string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, "-"+d)
	return nil
}

func (s *edgeSink) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// waitFor polls cond every millisecond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func start(t *testing.T, s *Scheduler) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestEdgesAndBackoff(t *testing.T) {
	sink := &edgeSink{}
	s := New(Options{Sink: sink, MaxBackoff: 20 * time.Millisecond})
	var fail atomic.Bool
	var runs atomic.Int64
	s.Add(Job{Name: "dev", Period: time.Millisecond, Poll: func(context.Context) error {
		runs.Add(1)
		if fail.Load() {
			return errors.New("no answer")
		}
		return nil
	}})
	start(t, s)
	waitFor(t, "connect", func() bool { return len(sink.get()) == 1 })
	fail.Store(true)
	waitFor(t, "disconnect", func() bool { return len(sink.get()) == 2 })
	fail.Store(false)
	waitFor(t, "reconnect", func() bool { return len(sink.get()) == 3 })
	got := sink.get()
	if got[0] != "+dev" || got[1] != "-dev" || got[2] != "+dev" {
		t.Fatal(got)
	}
	if !s.Up("dev") {
		t.Fatal("not up")
	}
}

func TestNoPileUpAndBoundedWorkers(t *testing.T) {
	s := New(Options{Workers: 2})
	var active, peak atomic.Int64
	var mu sync.Mutex
	perJob := map[string]int{}
	release := make(chan struct{})
	for _, n := range []string{"a", "b", "c", "d"} {
		s.Add(Job{Name: n, Period: time.Microsecond, NoEdges: true, Poll: func(ctx context.Context) error {
			v := active.Add(1)
			for {
				p := peak.Load()
				if v <= p || peak.CompareAndSwap(p, v) {
					break
				}
			}
			mu.Lock()
			perJob[n]++
			if perJob[n] > 1 {
				mu.Unlock()
				active.Add(-1)
				return nil
			}
			mu.Unlock()
			select {
			case <-release:
			case <-ctx.Done():
			}
			active.Add(-1)
			return nil
		}})
	}
	stop := start(t, s)
	waitFor(t, "two busy workers", func() bool { return active.Load() == 2 })
	close(release)
	waitFor(t, "all jobs ran twice", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range []string{"a", "b", "c", "d"} {
			if perJob[n] < 2 {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 2 {
		t.Fatalf("%d runs at once with 2 workers", peak.Load())
	}
}

func TestSameJobNeverOverlaps(t *testing.T) {
	s := New(Options{Workers: 8})
	var inside, overlaps, runs atomic.Int64
	s.Add(Job{Name: "slow", Period: time.Microsecond, NoEdges: true, Poll: func(context.Context) error {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(200 * time.Microsecond)
		inside.Add(-1)
		runs.Add(1)
		return nil
	}})
	stop := start(t, s)
	waitFor(t, "20 runs", func() bool { return runs.Load() >= 20 })
	stop()
	if overlaps.Load() != 0 {
		t.Fatalf("%d overlapping runs", overlaps.Load())
	}
}

func TestRemoveAndOnce(t *testing.T) {
	s := New(Options{})
	var a, once atomic.Int64
	s.Add(Job{Name: "a", Period: time.Millisecond, NoEdges: true, Poll: func(context.Context) error { a.Add(1); return nil }})
	s.Add(Job{Name: "once", NoEdges: true, Poll: func(context.Context) error { once.Add(1); return nil }})
	start(t, s)
	waitFor(t, "runs", func() bool { return a.Load() >= 3 && once.Load() == 1 })
	s.Remove("a")
	n := a.Load()
	// Add a marker job and wait for it to run several times: a would have
	// run too by then if it were still scheduled.
	var m atomic.Int64
	s.Add(Job{Name: "m", Period: time.Millisecond, NoEdges: true, Poll: func(context.Context) error { m.Add(1); return nil }})
	waitFor(t, "marker", func() bool { return m.Load() >= 5 })
	if got := a.Load(); got > n+1 {
		t.Fatalf("removed job ran %d more times", got-n)
	}
	if once.Load() != 1 {
		t.Fatalf("once job ran %d times", once.Load())
	}
}

func TestPanicEndsRun(t *testing.T) {
	s := New(Options{})
	s.Add(Job{Name: "bad", Period: time.Millisecond, Poll: func(context.Context) error { panic("boom") }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Run(ctx)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Job != "bad" {
		t.Fatalf("err %v", err)
	}
}

func TestBackoffFormula(t *testing.T) {
	p := 10 * time.Second
	for n, want := range map[int]time.Duration{0: p, 1: p, 2: 20 * time.Second, 3: 40 * time.Second, 4: time.Minute, 40: time.Minute} {
		if got := Backoff(p, time.Minute, n); got != want {
			t.Errorf("n=%d: %v, want %v", n, got, want)
		}
	}
	if got := Backoff(5*time.Minute, time.Minute, 3); got != 5*time.Minute {
		t.Errorf("period above cap: %v", got)
	}
}

func TestIdleHoldsNoTimer(t *testing.T) {
	s := New(Options{})
	stop := start(t, s)
	// Nothing to observe directly but a prompt stop with no jobs.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestUnchangedKeepsState(t *testing.T) {
	sink := &edgeSink{}
	s := New(Options{Sink: sink})
	var runs atomic.Int64
	s.Add(Job{Name: "quiet", Period: time.Millisecond, Poll: func(context.Context) error {
		runs.Add(1)
		return Unchanged
	}})
	start(t, s)
	waitFor(t, "runs at the period", func() bool { return runs.Load() >= 20 })
	if len(sink.get()) != 0 || s.Up("quiet") {
		t.Fatalf("edges %v for a job that only answered Unchanged", sink.get())
	}
}

func TestKickAndNoBackoff(t *testing.T) {
	s := New(Options{})
	var runs atomic.Int64
	s.Add(Job{Name: "k", Period: time.Hour, NoBackoff: true, NoEdges: true, Poll: func(context.Context) error {
		runs.Add(1)
		return errors.New("down")
	}})
	start(t, s)
	waitFor(t, "first run", func() bool { return runs.Load() == 1 })
	for i := int64(2); i <= 4; i++ {
		s.Kick("k")
		waitFor(t, "kicked run", func() bool { return runs.Load() == i })
	}
	if b := Backoff(time.Hour, time.Minute, 3); b != time.Hour {
		t.Fatal(b)
	}
}

func TestAnnounceDown(t *testing.T) {
	sink := &edgeSink{}
	s := New(Options{Sink: sink, AnnounceDown: true, MaxBackoff: time.Millisecond})
	var runs atomic.Int64
	s.Add(Job{Name: "never", Period: time.Millisecond, Poll: func(context.Context) error {
		runs.Add(1)
		return errors.New("no answer")
	}})
	start(t, s)
	waitFor(t, "several failures", func() bool { return runs.Load() >= 5 })
	if got := sink.get(); len(got) != 1 || got[0] != "-never" {
		t.Fatalf("edges %v, want one disconnect", got)
	}
}

// BenchmarkDispatch measures the scheduler's cost per poll: 1000 jobs due
// at once, each doing nothing, on 4 workers.
func BenchmarkDispatch(b *testing.B) {
	s := New(Options{Workers: 4})
	var runs atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	for i := range 1000 {
		s.Add(Job{Name: fmt.Sprint("d", i), Period: time.Nanosecond, NoEdges: true, Poll: func(context.Context) error {
			if runs.Add(1) == n {
				close(done)
			}
			return nil
		}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.ResetTimer()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	<-done
	b.StopTimer()
	cancel()
	<-stopped
}
