package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGrowthCapAndReset(t *testing.T) {
	b := Policy{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond, Jitter: -1}.New()
	want := []time.Duration{10, 20, 40, 80, 80}
	for i, w := range want {
		if d := b.Next(); d != w*time.Millisecond {
			t.Fatalf("step %d: %v, want %v", i, d, w*time.Millisecond)
		}
	}
	if b.Attempts() != len(want) {
		t.Fatalf("attempts %d", b.Attempts())
	}
	b.Reset()
	if d := b.Next(); d != 10*time.Millisecond {
		t.Fatalf("after reset %v", d)
	}
}

func TestConstantFactor(t *testing.T) {
	b := Policy{Min: time.Second, Max: time.Second, Factor: 1, Jitter: -1}.New()
	for range 5 {
		if d := b.Next(); d != time.Second {
			t.Fatal(d)
		}
	}
}

func TestJitterRange(t *testing.T) {
	b := Policy{Min: time.Second, Max: time.Second, Jitter: 0.5}.New()
	seen := map[time.Duration]bool{}
	for range 200 {
		d := b.Next()
		if d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("delay %v outside [0.5s,1s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter produced only %d distinct delays", len(seen))
	}
}

func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// ResetAfter is set: its default (Max, 1 µs here) would count any
// attempt the scheduler delays as a healthy run and reset the count.
func TestRetryMaxTries(t *testing.T) {
	n := 0
	boom := errors.New("boom")
	err := Retry(context.Background(), Policy{Min: time.Microsecond, Max: time.Microsecond, MaxTries: 3, ResetAfter: time.Hour},
		func(context.Context) error { n++; return boom })
	if n != 3 || !errors.Is(err, ErrGaveUp) || !errors.Is(err, boom) {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestRetrySucceeds(t *testing.T) {
	n := 0
	err := Retry(context.Background(), Policy{Min: time.Microsecond, Max: time.Microsecond},
		func(context.Context) error {
			n++
			if n < 4 {
				return errors.New("not yet")
			}
			return nil
		})
	if err != nil || n != 4 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Retry(ctx, Policy{Min: time.Hour}, func(context.Context) error {
		n++
		cancel()
		return errors.New("x")
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestRetryResetsAfterHealthyRun(t *testing.T) {
	clock := time.Unix(0, 0)
	var waits []time.Duration
	now = func() time.Time { return clock }
	sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		clock = clock.Add(d)
		return nil
	}
	t.Cleanup(func() { now, sleep = time.Now, Sleep })
	p := Policy{Min: time.Second, Max: time.Minute, ResetAfter: 10 * time.Second, Jitter: -1}
	n := 0
	_ = Retry(context.Background(), p, func(context.Context) error {
		n++
		if n == 3 {
			clock = clock.Add(11 * time.Second) // a healthy session
		}
		if n == 5 {
			return nil
		}
		return errors.New("x")
	})
	want := []time.Duration{time.Second, 2 * time.Second, time.Second, 2 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}

func TestCurrentAndJittered(t *testing.T) {
	p := Policy{Min: time.Second, Max: 8 * time.Second}
	b := p.New()
	if b.Current() != time.Second {
		t.Fatal(b.Current())
	}
	b.Next()
	b.Next()
	if b.Current() != 2*time.Second || b.Current() != 2*time.Second {
		t.Fatal(b.Current())
	}
	for range 100 {
		if d := p.Jittered(time.Second); d < 500*time.Millisecond || d > time.Second {
			t.Fatal(d)
		}
	}
}
