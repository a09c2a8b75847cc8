// Package backoff computes retry delays for reconnect and retry loops:
// exponential growth from a minimum to a cap, random jitter so a fleet of
// gateways does not retry in step, an optional limit on attempts, and a
// reset after a healthy period. Sleeping is context-aware and uses one
// timer that exists only while waiting.
//
// Every reconnect loop in tbgw's connectors uses it; upstream's
// reconnect / reconnectPeriod / reconnectCount keys map onto a Policy.
// Non-goals: deciding which errors are retryable (the caller does).
package backoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Policy describes a back-off. Zero fields take the defaults noted.
type Policy struct {
	Min    time.Duration // first delay; default 1 s
	Max    time.Duration // cap; default 1 min (never below Min)
	Factor float64       // growth per failure; default 2 (1 = constant)
	// Jitter in [0,1]: each delay is drawn uniformly from
	// [d*(1-Jitter), d]. Default 0.5; negative means none.
	Jitter float64
	// ResetAfter: in Retry, an attempt that ran at least this long before
	// failing starts the back-off from Min again. Default: Max.
	ResetAfter time.Duration
	// MaxTries limits the attempts of Retry (0 = unlimited).
	MaxTries int
}

// ErrGaveUp wraps the last error when Retry ran out of tries.
var ErrGaveUp = errors.New("gave up")

func (p Policy) norm() Policy {
	if p.Min <= 0 {
		p.Min = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	if p.Max < p.Min {
		p.Max = p.Min
	}
	if p.Factor < 1 {
		p.Factor = 2
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = 0.5
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	if p.ResetAfter <= 0 {
		p.ResetAfter = p.Max
	}
	return p
}

// Backoff is the state of one retry sequence. It is not safe for
// concurrent use.
type Backoff struct {
	p        Policy
	cur      time.Duration
	attempts int
}

// New starts a sequence.
func (p Policy) New() *Backoff { return &Backoff{p: p.norm()} }

// Next returns the delay before the next attempt and grows the back-off.
func (b *Backoff) Next() time.Duration {
	b.attempts++
	if b.cur == 0 {
		b.cur = b.p.Min
	} else {
		n := time.Duration(float64(b.cur) * b.p.Factor)
		if n > b.p.Max || n < b.cur {
			n = b.p.Max
		}
		b.cur = n
	}
	return jitter(b.cur, b.p.Jitter)
}

// Jittered applies the policy's jitter to d: a delay drawn uniformly
// from [d*(1-Jitter), d].
func (p Policy) Jittered(d time.Duration) time.Duration { return jitter(d, p.norm().Jitter) }

func jitter(d time.Duration, j float64) time.Duration {
	if j > 0 {
		lo := float64(d) * (1 - j)
		d = time.Duration(lo + rand.Float64()*(float64(d)-lo))
	}
	return d
}

// Current is the delay (before jitter) Next handed out last, or Min when
// none since the last Reset; it does not grow the back-off.
func (b *Backoff) Current() time.Duration {
	if b.cur == 0 {
		return b.p.Min
	}
	return b.cur
}

// Attempts is how many delays Next has handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempts }

// Reset starts the sequence again from Min.
func (b *Backoff) Reset() { b.cur, b.attempts = 0, 0 }

// Wait sleeps for Next() or until ctx is done.
func (b *Backoff) Wait(ctx context.Context) error { return sleep(ctx, b.Next()) }

// Seams for tests.
var (
	now   = time.Now
	sleep = Sleep
)

// Sleep waits d or until ctx is done, whichever comes first, and returns
// ctx.Err() in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retry calls fn until it returns nil, ctx is done, or MaxTries attempts
// failed, waiting the back-off between failures. An attempt that lasted at
// least ResetAfter resets the back-off first, so a long healthy session
// that drops is retried quickly. fn receives ctx. Retry returns nil,
// ctx.Err(), or the last error wrapped in ErrGaveUp.
func Retry(ctx context.Context, p Policy, fn func(context.Context) error) error {
	b := p.New()
	for {
		start := now()
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if now().Sub(start) >= b.p.ResetAfter {
			b.Reset()
		}
		if b.p.MaxTries > 0 && b.attempts+1 >= b.p.MaxTries {
			return errors.Join(ErrGaveUp, err)
		}
		if werr := b.Wait(ctx); werr != nil {
			return werr
		}
	}
}
