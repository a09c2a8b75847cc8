package drivertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// Suite describes a connector for Conformance.
type Suite struct {
	Type    string            // connector type, e.g. "modbus"
	Factory connector.Factory // its factory
	// Config returns a valid configuration whose devices produce data
	// (the test has started their peers). Data must reach the sink within
	// DataWithin without further action, or after Trigger.
	Config func(t *testing.T) []byte
	// Trigger, when set, makes the peer produce data once (a publish, a
	// POST...); it is called repeatedly while the suite waits for data.
	Trigger func(t *testing.T)
	// Bad maps invalid configurations to a substring the error must hold
	// (usually the key path). Every error must also carry a file:line:col
	// position.
	Bad map[string]string
	// RPC is a downlink call to try on a stopped connector (Device and
	// Method set); zero means a reserved "get" to the first device sent.
	RPC connector.RPC
	// DataWithin bounds the wait for data; default 20 s.
	DataWithin time.Duration
	// StopWithin bounds Run's return after cancel; default 10 s.
	StopWithin time.Duration
	// NoData: the connector's Good config cannot produce data in a test
	// (only the bad-config and stop checks run). Say why in Reason.
	NoData bool
	Reason string
}

var position = regexp.MustCompile(`\.(json|yaml|yml):\d+:\d+`)

// Conformance checks the behaviour the contract requires of every
// connector (gw/connector's package documentation):
//   - bad configurations are rejected with a position and the key;
//   - Run stops within a bound after cancel and leaves no goroutine;
//   - when storage is full the connector keeps running and delivers again
//     once there is room;
//   - a panic in any of its goroutines (provoked by a panicking sink)
//     comes out of Run as an error instead of crashing the process;
//   - a downlink call on a stopped connector returns instead of hanging.
func Conformance(t *testing.T, s Suite) {
	t.Helper()
	if s.DataWithin == 0 {
		s.DataWithin = 20 * time.Second
	}
	if s.StopWithin == 0 {
		s.StopWithin = 10 * time.Second
	}
	t.Run("BadConfigs", func(t *testing.T) {
		if len(s.Bad) == 0 {
			t.Fatal("Suite.Bad lists no invalid configuration")
		}
		for cfg, want := range s.Bad {
			_, err := s.Factory([]byte(cfg), Env(t, "conf", s.Type))
			switch {
			case err == nil:
				t.Errorf("accepted invalid config %s", cfg)
			case !position.MatchString(err.Error()):
				t.Errorf("error without a file:line:col position: %v (config %s)", err, cfg)
			case !strings.Contains(err.Error(), want):
				t.Errorf("error %q does not mention %q (config %s)", err, want, cfg)
			}
		}
	})
	if s.Config == nil {
		t.Fatal("Suite.Config is required")
	}
	t.Run("StopsCleanly", func(t *testing.T) {
		base := settle(t, 0)
		sink := NewSink()
		c, stop := s.start(t, sink)
		if !s.NoData {
			s.waitData(t, sink, 1)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		if n := settle(t, base); n > base {
			t.Errorf("%d goroutines left after Run returned (before: %d):\n%s", n-base, base, stacks())
		}
		s.stoppedDownlink(t, c, sink)
	})
	if s.NoData {
		t.Logf("storage-full and panic checks not run: %s", s.Reason)
		return
	}
	t.Run("StorageFull", func(t *testing.T) {
		sink := &fullSink{Sink: NewSink()}
		sink.full.Store(true)
		_, stop := s.start(t, sink)
		deadline := time.Now().Add(s.DataWithin)
		for sink.refused() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("connector made %d Send attempts while storage was full", sink.refused())
			}
			if s.Trigger != nil {
				s.Trigger(t)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sink.full.Store(false)
		s.waitData(t, sink.Sink, 1)
		if err := stop(); err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	})
	t.Run("PanicBecomesError", func(t *testing.T) {
		sink := &panicSink{Sink: NewSink()}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, err := s.Factory(s.Config(t), Env(t, "conf", s.Type))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			// The supervisor recovers Run's own goroutine; do the same.
			defer func() {
				if v := recover(); v != nil {
					done <- fmt.Errorf("panic in Run: %v", v)
				}
			}()
			done <- c.Run(ctx, sink)
		}()
		deadline := time.NewTimer(s.DataWithin)
		defer deadline.Stop()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Run returned nil after a goroutine panicked")
				}
				return
			case <-tick.C:
				if s.Trigger != nil {
					s.Trigger(t)
				}
			case <-deadline.C:
				t.Fatalf("no panic surfaced within %v (Send called %v)", s.DataWithin, sink.called.Load())
			}
		}
	})
}

func (s Suite) start(t *testing.T, sink connector.Sink) (connector.Connector, func() error) {
	t.Helper()
	c, err := s.Factory(s.Config(t), Env(t, "conf", s.Type))
	if err != nil {
		t.Fatalf("factory: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(s.StopWithin):
				runErr = fmt.Errorf("Run did not return within %v of cancel:\n%s", s.StopWithin, stacks())
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return c, stop
}

func (s Suite) waitData(t *testing.T, sink *Sink, n int) {
	t.Helper()
	deadline := time.Now().Add(s.DataWithin)
	for len(sink.Data()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no data within %v", s.DataWithin)
		}
		if s.Trigger != nil {
			s.Trigger(t)
		}
		sink.WaitChange(100 * time.Millisecond)
	}
}

func (s Suite) stoppedDownlink(t *testing.T, c connector.Connector, sink *Sink) {
	req := s.RPC
	if req.Method == "" {
		req.Method = "get"
		req.Params = json.RawMessage(`"x=1;"`)
		if d := sink.Data(); len(d) > 0 {
			req.Device = d[0].Device
		}
	}
	if len(req.Params) == 0 {
		req.Params = json.RawMessage("null")
	}
	req.Timeout = 2 * time.Second
	if h, ok := c.(connector.RPCHandler); ok {
		ctx, cancel := context.WithTimeout(context.Background(), req.Timeout)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					done <- fmt.Errorf("panic: %v", v)
				}
			}()
			_, err := h.OnRPC(ctx, req)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && strings.HasPrefix(err.Error(), "panic: ") {
				t.Errorf("OnRPC on a stopped connector: %v", err)
			}
		case <-time.After(req.Timeout + 5*time.Second):
			t.Errorf("OnRPC on a stopped connector did not return")
		}
	}
	if h, ok := c.(connector.AttributeHandler); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("OnAttributes on a stopped connector panicked: %v", v)
				}
			}()
			_ = h.OnAttributes(ctx, req.Device, map[string]any{"conformance": 1})
		}()
		select {
		case <-done:
		case <-time.After(7 * time.Second):
			t.Errorf("OnAttributes on a stopped connector did not return")
		}
	}
}

// settle waits up to 5 s for the goroutine count to drop to want (0: just
// let it settle) and returns it.
func settle(t *testing.T, want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 250 && (want == 0 || n > want); i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if want == 0 && m == n && i > 5 {
			return n
		}
		n = m
	}
	return n
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// fullSink refuses with ErrStorageFull while full is set.
type fullSink struct {
	*Sink
	full atomic.Bool
	mu   sync.Mutex
	n    int
}

func (f *fullSink) Send(ctx context.Context, items []connector.Data) error {
	if f.full.Load() {
		f.mu.Lock()
		f.n++
		f.mu.Unlock()
		return connector.ErrStorageFull
	}
	return f.Sink.Send(ctx, items)
}

func (f *fullSink) refused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// panicSink panics in Send, as a bug in a connector's worker would.
type panicSink struct {
	*Sink
	called atomic.Bool
}

var errConformancePanic = errors.New("conformance: provoked panic in Send")

func (p *panicSink) Send(ctx context.Context, items []connector.Data) error {
	p.called.Store(true)
	panic(errConformancePanic)
}
