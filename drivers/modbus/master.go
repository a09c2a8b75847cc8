package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mb "github.com/tbgw/tbgw/codec/modbus"
)

// master is one connection shared by every device behind it (one TCP
// endpoint, one serial port). Requests go out one at a time, which is what
// keeps a serial bus safe.
type master struct {
	spec linkSpec
	log  *slog.Logger
	st   *store // for the "local" network

	mu   sync.Mutex
	l    link
	last time.Time // end of the last request
	// Counters, for tests and the benchmark.
	requests atomic.Int64
}

// reqOpts are the per-device request settings.
type reqOpts struct {
	timeout time.Duration
	retries int
	delay   time.Duration // delayBetweenRequestsMs
}

func newMaster(spec linkSpec, log *slog.Logger, st *store) *master {
	return &master{spec: spec, log: log, st: st}
}

func (m *master) connected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.l != nil
}

// connect opens the link unless it is open.
func (m *master) connect(ctx context.Context, timeout time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.connectLocked(ctx, timeout)
}

func (m *master) connectLocked(ctx context.Context, timeout time.Duration) error {
	if m.l != nil {
		return nil
	}
	if m.spec.network == "local" {
		m.l = &localLink{st: m.st}
		return nil
	}
	l, err := dialLink(ctx, m.spec, timeout)
	if err != nil {
		return fmt.Errorf("connect %s: %w", m.spec.addr, err)
	}
	m.log.Info("connected", "to", m.spec.addr, "framing", m.spec.framing.String())
	m.l = l
	return nil
}

// closeLocked drops the link; the next request reconnects.
func (m *master) closeLocked(why error) {
	if m.l == nil {
		return
	}
	_ = m.l.Close()
	m.l = nil
	if why != nil {
		m.log.Info("connection closed", "to", m.spec.addr, "reason", why)
	}
}

func (m *master) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closeLocked(nil)
}

// exchange sends a request PDU to unit and returns the response PDU
// (valid until the next exchange on m, so only while the caller holds
// the result briefly: it is copied by the parse functions). It connects
// when needed. Timeouts and malformed answers are retried o.retries
// times; an exception response is returned as *mb.Exception at once; an
// I/O error closes the connection.
func (m *master) exchange(ctx context.Context, unit byte, pdu []byte, o reqOpts, use func(resp []byte) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	for attempt := 0; ; attempt++ {
		if err = m.connectLocked(ctx, o.timeout); err != nil {
			return err
		}
		if o.delay > 0 {
			if wait := time.Until(m.last.Add(o.delay)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
		var resp []byte
		m.requests.Add(1)
		resp, err = m.l.do(ctx, unit, pdu, o.timeout)
		m.last = time.Now()
		if err == nil {
			if resp == nil { // broadcast
				return nil
			}
			if err = use(resp); err == nil {
				return nil
			}
			var ex *mb.Exception
			if errors.As(err, &ex) {
				return err
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		retry := isTimeout(err) || errors.Is(err, mb.ErrMalformed)
		if errors.Is(err, errBroken) || !retry {
			m.closeLocked(err)
		}
		if !retry || attempt >= o.retries {
			return err
		}
		m.log.Debug("retrying", "to", m.spec.addr, "unit", unit, "attempt", attempt+1, "err", err)
	}
}

// read performs a read request and hands the registers or bits to use.
func (m *master) read(ctx context.Context, unit byte, fc byte, addr uint16, qty int, o reqOpts,
	regs *[]uint16, bits *[]bool) error {
	var buf [8]byte
	req, err := mb.AppendRead(buf[:0], fc, addr, uint16(qty))
	if err != nil {
		return err
	}
	return m.exchange(ctx, unit, req, o, func(resp []byte) error {
		var err error
		if mb.IsBitFunction(fc) {
			*bits, err = mb.ParseBits((*bits)[:0], req, resp)
		} else {
			*regs, err = mb.ParseRegisters((*regs)[:0], req, resp)
		}
		return err
	})
}

// write performs a prepared write.
func (m *master) write(ctx context.Context, unit byte, w mb.Write, o reqOpts) error {
	req, err := w.AppendPDU(nil)
	if err != nil {
		return err
	}
	return m.exchange(ctx, unit, req, o, func(resp []byte) error { return mb.CheckWrite(req, resp) })
}

func (m *master) requestCount() int64 { return m.requests.Load() }
