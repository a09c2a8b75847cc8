package exec

// Temporary stand-ins for drivers/kit until it lands; same shapes.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

type group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

func (g *group) Go(name string, f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("%s: panic: %v\n%s", name, r, debug.Stack())
				}
			}()
			err = f()
		}()
		if err != nil {
			g.once.Do(func() { g.err = err; g.cancel() })
		}
	}()
}

func (g *group) Wait() error { g.wg.Wait(); g.cancel(); return g.err }

type backoffPolicy struct{ Min, Max time.Duration }

type backoffState struct {
	p backoffPolicy
	d time.Duration
}

func (p backoffPolicy) New() *backoffState { return &backoffState{p: p} }
func (b *backoffState) Reset()             { b.d = 0 }
func (b *backoffState) Next() time.Duration {
	if b.d == 0 {
		b.d = b.p.Min
	} else {
		b.d = min(b.d*2, b.p.Max)
	}
	return time.Duration(float64(b.d) * (0.5 + rand.Float64()/2))
}
func (b *backoffState) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type sender struct {
	sink    connector.Sink
	log     *slog.Logger
	dropped atomic.Uint64
}

func (s *sender) Send(ctx context.Context, items []connector.Data) error {
	err := s.sink.Send(ctx, items)
	if errors.Is(err, connector.ErrStorageFull) {
		s.dropped.Add(uint64(len(items)))
		s.log.Warn("event storage full: data dropped")
		return nil
	}
	return err
}
