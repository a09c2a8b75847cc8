package kit

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// PanicError is a recovered panic of a connector goroutine.
type PanicError struct {
	Goroutine string // the name given to Go
	Value     any
	Stack     []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic in %s: %v", e.Goroutine, e.Value)
}

// Group runs a connector's goroutines. The first error, or a panic turned
// into a *PanicError, cancels the group's context; Wait waits for every
// goroutine and returns that first error. A connector's Run starts all its
// goroutines through one Group and returns Wait's error, so a panic
// anywhere becomes a restart by the supervisor instead of a crash.
type Group struct {
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// NewGroup returns a group and the context its goroutines run under.
func NewGroup(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &Group{cancel: cancel}, ctx
}

// Go runs fn in a new goroutine. name identifies it in a panic report.
// A nil return does not stop the others; an error or panic does.
func (g *Group) Go(name string, fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := Protect(name, fn); err != nil {
			g.fail(err)
		}
	}()
}

func (g *Group) fail(err error) {
	g.once.Do(func() {
		g.err = err
		g.cancel(err)
	})
}

// Wait waits for every goroutine and returns the first error (nil when
// all returned nil, or only context errors after cancellation by the
// parent).
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel(nil)
	return g.err
}

// Protect calls fn and turns a panic into a *PanicError.
func Protect(name string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Goroutine: name, Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}
