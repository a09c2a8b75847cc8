package modbus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	mb "github.com/tbgw/tbgw/codec/modbus"
	"github.com/tbgw/tbgw/drivers/kit/quietsock"
)

// link is one connection to devices: a TCP or TLS connection, a UDP
// socket, a serial port, or the in-process slave section. It carries one
// request at a time (the master serialises).
type link interface {
	// do sends the request pdu to unit and returns the response PDU, valid
	// until the next call. A broadcast (unit 0 on a serial line) returns
	// nil, nil.
	do(ctx context.Context, unit byte, pdu []byte, timeout time.Duration) ([]byte, error)
	Close() error
}

// errBroken marks errors after which a stream is out of step and must be
// closed (a partial frame, garbage that cannot be resynchronised).
var errBroken = errors.New("connection out of step")

type brokenError struct{ err error }

func (e brokenError) Error() string        { return e.err.Error() }
func (e brokenError) Unwrap() []error      { return []error{e.err, errBroken} }
func broken(err error) error               { return brokenError{err} }
func isTimeout(err error) bool             { return errors.Is(err, os.ErrDeadlineExceeded) }
func (e brokenError) Is(target error) bool { return target == errBroken }

// stream is what streamLink reads and writes: a net.Conn or a serial port.
type stream interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
}

// streamLink runs one of the three framings over a byte stream.
type streamLink struct {
	s       stream
	serial  *serialStream // nil unless s is a serial port
	framing framing
	tid     uint16
	wbuf    []byte
	rbuf    [600]byte
	echo    bool
	silence time.Duration // RTU inter-frame gap (serial only)
	char    time.Duration // one character time (serial only)
	idle    time.Time     // when the line went quiet (serial only)
	// resetOnTimeout closes the link after a timeout: a late RTU answer
	// over TCP cannot be told apart from the next one.
	resetOnTimeout bool
}

func dialLink(ctx context.Context, spec linkSpec, timeout time.Duration) (link, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch spec.network {
	case "tcp":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", spec.addr)
		if err != nil {
			return nil, err
		}
		c = quietsock.Wrap(c)
		if spec.tls != nil {
			cfg := spec.tls.Clone()
			if h, _, err := net.SplitHostPort(spec.addr); err == nil && cfg.ServerName == "" {
				cfg.ServerName = h
			}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("tls handshake: %w", err)
			}
			c = tc
		}
		return &streamLink{s: c, framing: spec.framing, resetOnTimeout: spec.framing != framingMBAP}, nil
	case "udp":
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", spec.addr)
		if err != nil {
			return nil, err
		}
		return &packetLink{c: c, framing: spec.framing}, nil
	case "serial":
		s, err := openSerial(spec.addr, spec.serial)
		if err != nil {
			return nil, err
		}
		return &streamLink{s: s, serial: s, framing: spec.framing, echo: spec.echo,
			silence: spec.serial.silence(), char: spec.serial.charTime(), idle: time.Now()}, nil
	}
	return nil, fmt.Errorf("unknown network %q", spec.network)
}

func (l *streamLink) Close() error { return l.s.Close() }

func (l *streamLink) do(ctx context.Context, unit byte, pdu []byte, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := l.s.SetReadDeadline(deadline); err != nil {
		return nil, broken(err)
	}
	if wc, ok := l.s.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = wc.SetWriteDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.s.SetReadDeadline(time.Now()) })
	defer stop()
	resp, err := l.exchange(unit, pdu)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && l.resetOnTimeout && isTimeout(err) {
		err = broken(err)
	}
	return resp, err
}

func (l *streamLink) exchange(unit byte, pdu []byte) ([]byte, error) {
	l.tid++
	l.wbuf = appendADU(l.wbuf[:0], l.framing, l.tid, unit, pdu)
	if l.serial != nil {
		// Keep the inter-frame silence, then drop anything left over.
		if wait := time.Until(l.idle.Add(l.silence)); wait > 0 {
			time.Sleep(wait)
		}
		l.serial.flush()
	}
	if _, err := l.s.Write(l.wbuf); err != nil {
		return nil, broken(err)
	}
	if l.serial != nil {
		// The frame leaves the wire about one character time per byte later.
		l.idle = time.Now().Add(time.Duration(len(l.wbuf)) * l.char)
		if l.echo {
			if _, err := io.ReadFull(l.s, l.rbuf[:len(l.wbuf)]); err != nil {
				return nil, fmt.Errorf("local echo: %w", err)
			}
		}
		if unit == 0 && l.framing != framingMBAP {
			// Broadcast: no answer; give devices the turnaround delay.
			time.Sleep(100 * time.Millisecond)
			l.idle = time.Now()
			return nil, nil
		}
	}
	var resp []byte
	var err error
	switch l.framing {
	case framingMBAP:
		resp, err = l.readMBAP(unit)
	case framingRTU:
		resp, err = l.readRTU(unit)
	case framingASCII:
		resp, err = l.readASCII(unit)
	}
	if l.serial != nil {
		l.idle = time.Now()
	}
	return resp, err
}

// readMBAP reads frames until the one answering the current transaction;
// earlier answers (of timed-out requests) are skipped.
func (l *streamLink) readMBAP(unit byte) ([]byte, error) {
	for {
		b := l.rbuf[:]
		n, err := io.ReadFull(l.s, b[:mb.MBAPHeaderLen])
		if err != nil {
			if n > 0 {
				return nil, broken(err)
			}
			return nil, err
		}
		total, err := mb.MBAPLen(b)
		if err != nil {
			return nil, broken(err)
		}
		if _, err := io.ReadFull(l.s, b[mb.MBAPHeaderLen:total]); err != nil {
			return nil, broken(err)
		}
		tid, _, pdu, err := mb.ParseMBAP(b[:total])
		if err != nil {
			return nil, broken(err)
		}
		if tid == l.tid {
			return pdu, nil
		}
	}
}

// readRTU reads one RTU frame, its length told by the function code.
func (l *streamLink) readRTU(unit byte) ([]byte, error) {
	b := l.rbuf[:]
	n, need := 0, 3
	var total int
	for {
		for n < need {
			m, err := l.s.Read(b[n:need])
			n += m
			if err != nil {
				if n > 0 {
					l.drain()
				}
				return nil, err
			}
		}
		var err error
		if total, err = mb.RTUResponseLen(b[:n]); err != nil {
			l.drain()
			return nil, err
		}
		switch {
		case total == 0: // not known yet (device identification)
			need = n + 1
		case total > len(b):
			l.drain()
			return nil, fmt.Errorf("%w: RTU frame of %d bytes", mb.ErrMalformed, total)
		case n >= total:
			u, pdu, err := mb.ParseRTU(b[:total])
			if err != nil {
				l.drain()
				return nil, err
			}
			if u != unit {
				l.drain()
				return nil, fmt.Errorf("%w: answer from unit %d, asked %d", mb.ErrMalformed, u, unit)
			}
			return pdu, nil
		default:
			need = total
		}
		if need > len(b) {
			l.drain()
			return nil, fmt.Errorf("%w: RTU frame too long", mb.ErrMalformed)
		}
	}
}

// readASCII reads one ASCII frame (':' to LF).
func (l *streamLink) readASCII(unit byte) ([]byte, error) {
	b := l.rbuf[:]
	n := 0
	for {
		m, err := l.s.Read(b[n:])
		if m > 0 {
			// Skip anything before the start character.
			if n == 0 {
				for i := range m {
					if b[i] == ':' {
						copy(b, b[i:m])
						m -= i
						break
					}
					if i == m-1 {
						m = 0
					}
				}
			}
			n += m
			for i := max(0, n-m); i < n; i++ {
				if b[i] == '\n' {
					u, pdu, err := mb.ParseASCII(b[:i+1])
					if err != nil {
						return nil, err
					}
					if u != unit {
						return nil, fmt.Errorf("%w: answer from unit %d, asked %d", mb.ErrMalformed, u, unit)
					}
					return pdu, nil
				}
			}
			if n == len(b) {
				return nil, fmt.Errorf("%w: ASCII frame too long", mb.ErrMalformed)
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// drain reads until the line has been quiet for an inter-frame gap, so
// the next frame starts clean.
func (l *streamLink) drain() { drainStream(l.s, max(l.silence, 20*time.Millisecond)) }

// appendADU frames pdu for unit (tid: the MBAP transaction id).
func appendADU(dst []byte, f framing, tid uint16, unit byte, pdu []byte) []byte {
	switch f {
	case framingRTU:
		return mb.AppendRTU(dst, unit, pdu)
	case framingASCII:
		return mb.AppendASCII(dst, unit, pdu)
	}
	return mb.AppendMBAP(dst, tid, unit, pdu)
}

// parseADU unframes one complete frame.
func parseADU(f framing, adu []byte) (tid uint16, unit byte, pdu []byte, err error) {
	switch f {
	case framingRTU:
		unit, pdu, err = mb.ParseRTU(adu)
	case framingASCII:
		unit, pdu, err = mb.ParseASCII(adu)
	default:
		tid, unit, pdu, err = mb.ParseMBAP(adu)
	}
	return tid, unit, pdu, err
}

// packetLink is Modbus over UDP: one datagram per frame.
type packetLink struct {
	c       net.Conn
	framing framing
	tid     uint16
	wbuf    []byte
	rbuf    [600]byte
}

func (l *packetLink) Close() error { return l.c.Close() }

func (l *packetLink) do(ctx context.Context, unit byte, pdu []byte, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = l.c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = l.c.SetReadDeadline(time.Now()) })
	defer stop()
	l.tid++
	l.wbuf = appendADU(l.wbuf[:0], l.framing, l.tid, unit, pdu)
	if _, err := l.c.Write(l.wbuf); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	for {
		n, err := l.c.Read(l.rbuf[:])
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		tid, u, p, err := parseADU(l.framing, l.rbuf[:n])
		switch {
		case err != nil:
			return nil, err
		case l.framing == framingMBAP && tid != l.tid:
			continue // a late answer
		case l.framing != framingMBAP && u != unit:
			return nil, fmt.Errorf("%w: answer from unit %d, asked %d", mb.ErrMalformed, u, unit)
		}
		return p, nil
	}
}

// localLink serves requests from the in-process slave section.
type localLink struct {
	st   *store
	rbuf []byte
}

func (l *localLink) Close() error { return nil }

func (l *localLink) do(ctx context.Context, unit byte, pdu []byte, timeout time.Duration) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.rbuf = l.st.handle(l.rbuf[:0], pdu)
	return l.rbuf, nil
}
