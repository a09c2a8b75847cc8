package knx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/knx"
)

var errNotConnected = errors.New("KNX bus is not connected")

// bus is the connector's view of the current link: group reads and
// writes, rate limiting, and the telegrams heard.
type bus struct {
	rateGap time.Duration
	observe func(ga knx.Group, c knx.CEMI) // every GroupValueWrite/Response

	mu      sync.Mutex
	l       link
	up      chan struct{} // closed while a link is set
	waiters map[knx.Group][]chan knx.CEMI

	rateMu   sync.Mutex
	lastSend time.Time

	sent, received atomic.Uint64
}

func newBus(gap time.Duration, observe func(knx.Group, knx.CEMI)) *bus {
	return &bus{rateGap: gap, observe: observe, up: make(chan struct{}), waiters: map[knx.Group][]chan knx.CEMI{}}
}

func (b *bus) set(l link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.l = l
	if l != nil {
		close(b.up)
	} else {
		b.up = make(chan struct{})
	}
}

func (b *bus) link() link {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.l
}

// waitUp blocks until a link is set or ctx ends.
func (b *bus) waitUp(ctx context.Context) error {
	b.mu.Lock()
	up := b.up
	b.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// indication handles an L_Data.ind from the link.
func (b *bus) indication(c knx.CEMI) {
	if !c.GroupDst() || (c.APCI != knx.GroupValueWrite && c.APCI != knx.GroupValueResponse) {
		return
	}
	b.received.Add(1)
	ga := knx.Group(c.Dst)
	// Copy: Data aliases the link's read buffer.
	c.Data = append([]byte(nil), c.Data...)
	b.mu.Lock()
	ws := b.waiters[ga]
	delete(b.waiters, ga)
	b.mu.Unlock()
	for _, w := range ws {
		w <- c // buffered
	}
	if b.observe != nil {
		b.observe(ga, c)
	}
}

func (b *bus) pace(ctx context.Context) error {
	if b.rateGap <= 0 {
		return nil
	}
	b.rateMu.Lock()
	defer b.rateMu.Unlock()
	if wait := time.Until(b.lastSend.Add(b.rateGap)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	b.lastSend = time.Now()
	return nil
}

func (b *bus) send(ctx context.Context, c knx.CEMI) error {
	l := b.link()
	if l == nil {
		return errNotConnected
	}
	if err := b.pace(ctx); err != nil {
		return err
	}
	c.Ctrl1, c.Ctrl2 = knx.DefaultCtrl1, knx.DefaultCtrl2
	if err := l.send(ctx, c); err != nil {
		return err
	}
	b.sent.Add(1)
	return nil
}

// write sends a GroupValueWrite of v encoded as t.
func (b *bus) write(ctx context.Context, ga knx.Group, t *knx.DPT, v any) error {
	data, small, err := t.Encode(v)
	if err != nil {
		return err
	}
	c := knx.CEMI{Dst: uint16(ga), APCI: knx.GroupValueWrite, Data: data, Small: small, IsSmall: t.Small()}
	if err := b.send(ctx, c); err != nil {
		return fmt.Errorf("write %s: %w", ga, err)
	}
	return nil
}

// read sends a GroupValueRead and waits up to timeout for the value (a
// GroupValueResponse, or a GroupValueWrite to the address, as xknx).
func (b *bus) read(ctx context.Context, ga knx.Group, t *knx.DPT, timeout time.Duration) (any, error) {
	ch := make(chan knx.CEMI, 1)
	b.mu.Lock()
	b.waiters[ga] = append(b.waiters[ga], ch)
	b.mu.Unlock()
	defer b.unwait(ga, ch)
	if err := b.send(ctx, knx.CEMI{Dst: uint16(ga), APCI: knx.GroupValueRead}); err != nil {
		return nil, fmt.Errorf("read %s: %w", ga, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case c := <-ch:
		v, err := t.Decode(c.Data, c.Small, c.IsSmall)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ga, err)
		}
		return v, nil
	case <-timer.C:
		return nil, fmt.Errorf("read %s: no answer within %v", ga, timeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("read %s: %w", ga, ctx.Err())
	}
}

func (b *bus) unwait(ga knx.Group, ch chan knx.CEMI) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ws := b.waiters[ga]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(b.waiters, ga)
	} else {
		b.waiters[ga] = ws
	}
}
