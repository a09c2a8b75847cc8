package serial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bugst "go.bug.st/serial"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

// device runs one serial device: it keeps its port open, cuts frames out
// of what arrives and serves writes.
type device struct {
	spec devSpec
	c    *Conn
	log  *slog.Logger

	mu     sync.Mutex
	port   bugst.Port // nil while the port is down
	waiter *waiter    // an RPC waiting for the device's answer

	wmu sync.Mutex // one write (or write and answer) at a time
}

// waiter receives the next frame ending with delim.
type waiter struct {
	delim []byte
	ch    chan []byte // buffered 1
}

// run keeps the port open until ctx ends, reopening it with back-off.
func (d *device) run(ctx context.Context, sink connector.Sink, send *kit.Sender) error {
	b := backoff.Policy{Min: time.Second, Max: 30 * time.Second}.New()
	failures := 0
	for ctx.Err() == nil {
		p, err := openPort(d.spec.port, d.spec.mode)
		if err != nil {
			d.c.counters.openErrors.Add(1)
			if failures == 0 {
				d.log.Warn("serial port not available; retrying", "device", d.spec.name, "err", err)
			} else {
				d.log.Debug("serial port still not available", "device", d.spec.name, "err", err)
			}
			failures++
			if b.Wait(ctx) != nil {
				break
			}
			continue
		}
		if failures > 0 {
			d.log.Info("serial port open again", "device", d.spec.name, "port", d.spec.port)
		} else {
			d.log.Info("serial port open", "device", d.spec.name, "port", d.spec.port)
		}
		failures = 0
		d.setPort(p)
		if err := sink.Connect(ctx, d.spec.name, d.spec.typ); err != nil && ctx.Err() == nil {
			d.log.Debug("connect device", "device", d.spec.name, "err", err)
		}
		start := time.Now()
		err = d.read(ctx, p, send)
		d.setPort(nil)
		p.Close()
		if ctx.Err() != nil {
			break
		}
		if err != nil && !errors.Is(err, errPortGone) {
			return fmt.Errorf("device %s: %w", d.spec.name, err)
		}
		d.c.counters.portLost.Add(1)
		d.log.Warn("serial port lost; reopening", "device", d.spec.name, "port", d.spec.port)
		if err := sink.Disconnect(context.WithoutCancel(ctx), d.spec.name); err != nil {
			d.log.Debug("disconnect device", "device", d.spec.name, "err", err)
		}
		if time.Since(start) > time.Minute {
			b.Reset()
		}
		if b.Wait(ctx) != nil {
			break
		}
	}
	return nil
}

var errPortGone = errors.New("port gone")

func (d *device) setPort(p bugst.Port) {
	d.mu.Lock()
	d.port = p
	d.mu.Unlock()
}

// read cuts frames until the port fails or ctx ends (the port is closed
// from outside then, which ends the blocking read).
func (d *device) read(ctx context.Context, p bugst.Port, send *kit.Sender) error {
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer stop()
	buf := make([]byte, 0, 256)
	chunk := make([]byte, 4096)
	for {
		timeout := bugst.NoTimeout
		if len(buf) > 0 {
			timeout = d.spec.gap
		}
		if err := p.SetReadTimeout(timeout); err != nil {
			return errPortGone
		}
		n, err := p.Read(chunk)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return errPortGone
		}
		if n == 0 { // a pause ends the frame
			if len(buf) > 0 {
				if err := d.frame(ctx, buf, send); err != nil {
					return err
				}
				buf = buf[:0]
			}
			continue
		}
		buf = append(buf, chunk[:n]...)
		for {
			delim := d.delimiter()
			i := bytes.Index(buf, delim)
			if i < 0 {
				break
			}
			end := i + len(delim)
			if err := d.frame(ctx, buf[:end], send); err != nil {
				return err
			}
			buf = append(buf[:0], buf[end:]...)
		}
		if len(buf) > d.spec.maxFrame {
			d.c.counters.oversize.Add(1)
			d.log.Warn("frame longer than maxFrameBytes without a delimiter; discarded", "device", d.spec.name, "bytes", len(buf))
			buf = buf[:0]
		}
	}
}

func (d *device) delimiter() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiter != nil {
		return d.waiter.delim
	}
	return d.spec.delim
}

// frame hands one frame to a waiting RPC or converts and sends it.
func (d *device) frame(ctx context.Context, f []byte, send *kit.Sender) error {
	d.c.counters.frames.Add(1)
	d.mu.Lock()
	w := d.waiter
	d.waiter = nil
	d.mu.Unlock()
	if w != nil {
		w.ch <- bytes.Clone(f)
		return nil
	}
	data, ok := d.convert(f)
	if !ok {
		return nil
	}
	err := send.Send(ctx, []connector.Data{data})
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// convert applies the device's keys to a frame.
func (d *device) convert(f []byte) (connector.Data, bool) {
	data := connector.Data{Device: d.spec.name, Type: d.spec.typ}
	for _, k := range d.spec.telemetry {
		if v, ok := d.value(k, f); ok {
			data.Telemetry = append(data.Telemetry, connector.Point{Key: k.key, Value: v})
		}
	}
	for _, k := range d.spec.attributes {
		if v, ok := d.value(k, f); ok {
			data.Attributes = append(data.Attributes, connector.Point{Key: k.key, Value: v})
		}
	}
	return data, len(data.Telemetry)+len(data.Attributes) > 0
}

func (d *device) value(k keySpec, f []byte) (any, bool) {
	b, err := k.cut.apply(f)
	if err == nil {
		var v any
		if v, err = parseValue(k.typ, b); err == nil {
			return v, true
		}
	}
	if !errors.Is(err, errAbsent) {
		d.c.counters.convertErrors.Add(1)
		d.log.Warn("cannot convert key", "device", d.spec.name, "key", k.key, "err", err)
	}
	return nil, false
}

// write sends b to the device; with w it then waits for the answer.
func (d *device) write(ctx context.Context, b []byte, w *waiter, timeout time.Duration) ([]byte, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.mu.Lock()
	p := d.port
	if p != nil && w != nil {
		d.waiter = w
	}
	d.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("serial port %s is not open", d.spec.port)
	}
	clear := func() {
		d.mu.Lock()
		if d.waiter == w {
			d.waiter = nil
		}
		d.mu.Unlock()
	}
	// A write the device never drains would block forever: closing the
	// port ends it (and the read loop reopens the port).
	stuck := time.AfterFunc(d.spec.writeTimeout, func() {
		d.log.Warn("write timed out; reopening the port", "device", d.spec.name)
		p.Close()
	})
	_, err := p.Write(b)
	stuck.Stop()
	if err != nil {
		clear()
		return nil, fmt.Errorf("write to %s: %w", d.spec.port, err)
	}
	d.c.counters.writes.Add(1)
	if w == nil {
		return nil, nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-w.ch:
		return f, nil
	case <-t.C:
		clear()
		return nil, fmt.Errorf("no response from the device within %v", timeout)
	case <-ctx.Done():
		clear()
		return nil, ctx.Err()
	}
}
