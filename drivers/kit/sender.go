package kit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// Sender applies the Send policy of a source that cannot refuse its data
// (a poller, a trap or broadcast receiver): when the gateway's storage is
// full the items are dropped and counted, with at most one warning a
// minute, and the connector carries on. Other errors (the gateway
// stopping, ctx done) are returned. Sources that can refuse upstream (an
// MQTT subscription, an HTTP server, a program over stdio) do not use it:
// they call the sink themselves and withhold their ack or answer an error.
type Sender struct {
	sink    connector.Sink
	log     *slog.Logger
	dropped atomic.Uint64
	items   atomic.Uint64

	mu       sync.Mutex
	lastWarn time.Time
	since    uint64 // dropped since the last warning
}

// NewSender wraps sink.
func NewSender(sink connector.Sink, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{sink: sink, log: log}
}

// Send hands items to the sink. It returns nil when they were stored or
// dropped for lack of space.
func (s *Sender) Send(ctx context.Context, items []connector.Data) error {
	if len(items) == 0 {
		return nil
	}
	err := s.sink.Send(ctx, items)
	if !errors.Is(err, connector.ErrStorageFull) {
		if err == nil {
			s.items.Add(uint64(len(items)))
		}
		return err
	}
	n := uint64(len(items))
	s.dropped.Add(n)
	s.mu.Lock()
	s.since += n
	if now := time.Now(); now.Sub(s.lastWarn) >= time.Minute {
		s.log.Warn("event storage is full: dropping data", "dropped", s.since, "droppedTotal", s.dropped.Load())
		s.lastWarn, s.since = now, 0
	}
	s.mu.Unlock()
	return nil
}

// Dropped is the number of items dropped because storage was full.
func (s *Sender) Dropped() uint64 { return s.dropped.Load() }

// Sent is the number of items stored.
func (s *Sender) Sent() uint64 { return s.items.Load() }

// Sink returns the wrapped sink (for Connect, Disconnect, ...).
func (s *Sender) Sink() connector.Sink { return s.sink }
