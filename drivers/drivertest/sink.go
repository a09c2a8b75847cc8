// Package drivertest helps test connectors without the gateway core: a Sink
// that records what a connector sends and answers attribute requests from a
// table, and helpers to run a connector for the length of a test.
package drivertest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// Sink records everything a connector hands to the gateway.
type Sink struct {
	mu          sync.Mutex
	cond        chan struct{} // closed and replaced on every change
	data        []connector.Data
	connects    []string
	disconnects []string
	// Attrs answers RequestAttributes: device -> key -> value.
	Attrs map[string]map[string]any
	// SendErr, when set, is returned by Send (to test back-pressure).
	SendErr error
}

// NewSink returns an empty recording sink.
func NewSink() *Sink {
	return &Sink{cond: make(chan struct{}), Attrs: map[string]map[string]any{}}
}

func (s *Sink) changed() {
	close(s.cond)
	s.cond = make(chan struct{})
}

// Send records items.
func (s *Sink) Send(ctx context.Context, items []connector.Data) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.SendErr != nil {
		return s.SendErr
	}
	s.data = append(s.data, items...)
	s.changed()
	return nil
}

// Connect records a connect.
func (s *Sink) Connect(ctx context.Context, device, deviceType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connects = append(s.connects, device)
	s.changed()
	return nil
}

// Disconnect records a disconnect.
func (s *Sink) Disconnect(ctx context.Context, device string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disconnects = append(s.disconnects, device)
	s.changed()
	return nil
}

// RequestAttributes answers from s.Attrs.
func (s *Sink) RequestAttributes(ctx context.Context, device string, client bool, keys []string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.Attrs[device]
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	if len(keys) == 0 {
		for k, v := range all {
			out[k] = v
		}
	}
	return out, nil
}

// Claim records a claim request as a connect of "claim:<device>".
func (s *Sink) Claim(ctx context.Context, device, secretKey string, duration time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connects = append(s.connects, "claim:"+device)
	s.changed()
	return nil
}

// Data returns a copy of everything sent so far.
func (s *Sink) Data() []connector.Data {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connector.Data(nil), s.data...)
}

// Connects and Disconnects return the devices announced so far.
func (s *Sink) Connects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.connects...)
}

// Disconnects returns the devices reported gone so far.
func (s *Sink) Disconnects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.disconnects...)
}

// Reset forgets everything recorded.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data, s.connects, s.disconnects = nil, nil, nil
}

// Wait blocks until cond (called with the recorded data under the lock)
// returns true, or fails the test after timeout.
func (s *Sink) Wait(t testing.TB, timeout time.Duration, what string, cond func(data []connector.Data) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond(s.data)
		ch := s.cond
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; got %d items", timeout, what, len(s.Data()))
		}
	}
}

// WaitChange waits until something is recorded or d passes.
func (s *Sink) WaitChange(d time.Duration) {
	s.mu.Lock()
	ch := s.cond
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// Latest returns the latest value of a telemetry (or, if attr, attribute)
// key of device, and whether there is one.
func (s *Sink) Latest(device, key string, attr bool) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Latest(s.data, device, key, attr)
}

// Latest finds the latest value of key for device in data.
func Latest(data []connector.Data, device, key string, attr bool) (any, bool) {
	for i := len(data) - 1; i >= 0; i-- {
		if data[i].Device != device {
			continue
		}
		pts := data[i].Telemetry
		if attr {
			pts = data[i].Attributes
		}
		for j := len(pts) - 1; j >= 0; j-- {
			if pts[j].Key == key {
				return pts[j].Value, true
			}
		}
	}
	return nil, false
}

// Env returns an Env for tests: a logger writing to the test log at debug
// level, the real clock and temporary directories.
func Env(t testing.TB, name, typ string) connector.Env {
	return connector.Env{
		Name:      name,
		Type:      typ,
		ID:        name,
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("connector", name),
		Now:       time.Now,
		File:      name + ".json",
		ConfigDir: t.TempDir(),
		DataDir:   t.TempDir(),
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// Run starts c in the background with sink and stops it (cancel, then wait
// for Run to return, at most 10 s) when the test ends. A Run that returns an
// unexpected error is reported with t.Errorf.
func Run(t testing.TB, c connector.Connector, sink connector.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	t.Cleanup(func() {
		// Run returning before the test ended is a failure, with or
		// without an error.
		select {
		case err := <-done:
			cancel()
			t.Errorf("connector Run returned before it was stopped: %v", err)
			return
		default:
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("connector did not stop within 10s of cancel")
		}
	})
}

// RequirePeer fails a test when an external peer program is not
// installed. Only a developer's own run may skip instead, by setting
// TBGW_REQUIRE_PEERS=0 outside CI; in CI (CI=true) and in `make test`
// peers are always required.
func RequirePeer(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf("peer %s not available (install with scripts/peers.sh)", what)
	if os.Getenv("CI") == "true" || os.Getenv("TBGW_REQUIRE_PEERS") != "0" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
