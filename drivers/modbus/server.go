package modbus

import (
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/quietsock"
	"github.com/tbgw/tbgw/drivers/kit/tlsconf"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/binary"
	mb "github.com/tbgw/tbgw/codec/modbus"
)

// serverDef is the compiled slave section.
type serverDef struct {
	listen  linkSpec // network tcp, udp or serial; addr to listen on
	tls     *tls.Config
	unit    byte
	store   *store
	maxConn int
	bound   atomic.Value // string
}

// server compiles the slave section: the served data, how to serve it and
// the device that reports it. As upstream, nothing is served unless
// sendDataToThingsBoard is true (the section is checked all the same).
func (c *compiler) server(s *serverConfig) (*serverDef, *slaveDef, error) {
	const path = "slave"
	srv := &serverDef{store: newStore(), maxConn: 32}
	typ := strings.ToLower(s.Type)
	var err error
	if srv.listen, err = c.link(path, &s.connConfig, true); err != nil {
		return nil, nil, err
	}
	if typ == "tls" || strings.EqualFold(s.Method, "tls") {
		if s.Security == nil || s.Security.Certfile == "" {
			return nil, nil, c.errorf(path+".security.certfile", "required to serve TLS")
		}
		cfg, err := tlsconf.Options{CertFile: s.Security.Certfile, KeyFile: s.Security.Keyfile, KeyPassword: s.Security.Password, Dir: c.configDir}.Server()
		if err != nil {
			return nil, nil, c.errorf(path+".security.certfile", "%v", err)
		}
		srv.tls = cfg
	}
	if s.UnitID != nil {
		if *s.UnitID < 0 || *s.UnitID > 255 {
			return nil, nil, c.errorf(path+".unitId", "must be 0..255")
		}
		srv.unit = byte(*s.UnitID)
	}
	d := &slaveDef{path: path, name: s.DeviceName, typ: s.DeviceType, unit: srv.unit, local: true,
		poll: defaultServerPoll, attemptGap: minAttemptGap, attempts: minAttempts, backoff: minBackoff}
	if d.name == "" {
		d.name = defaultServerName
	}
	if d.typ == "" {
		d.typ = "default"
	}
	if s.PollPeriod != nil {
		if *s.PollPeriod <= 0 {
			return nil, nil, c.errorf(path+".pollPeriod", "must be positive")
		}
		d.poll = ms(s.PollPeriod, 0)
	}
	d.link = linkSpec{key: "local|slave", network: "local", addr: "slave section"}
	if err := c.common(path, d, &s.connConfig); err != nil {
		return nil, nil, err
	}
	if d.order, err = c.order(path, s.ByteOrder, s.WordOrder); err != nil {
		return nil, nil, err
	}
	d.coalesce = coalesceParams{enabled: true, maxRegs: mb.MaxReadRegisters, maxBits: mb.MaxReadBits}
	devReport, err := s.ReportStrategy.Strategy()
	if err != nil {
		return nil, nil, c.errorf(path+".reportStrategy", "%v", err)
	}
	d.dev = mb.Device{Name: d.name, Type: s.DeviceType, Order: d.order}
	if s.Identity != nil {
		id := s.Identity
		srv.store.identity = [][]byte{[]byte(id.VendorName), []byte(id.ProductCode), []byte("tbgw"),
			[]byte(id.VendorURL), []byte(id.ProductName), []byte(id.ModelName)}
	}
	if s.Values == nil {
		c.warn(c.errorf(path+".values", "no values: the server serves no registers"))
		if !s.SendDataToThingsBoard {
			return nil, nil, nil
		}
		return srv, d, nil
	}
	blocks := []struct {
		name  string
		raw   []byte
		table int
		read  int
	}{
		{"holding_registers", s.Values.HoldingRegisters, tableHolding, 3},
		{"coils_initializer", s.Values.Coils, tableCoils, 1},
		{"input_registers", s.Values.InputRegisters, tableInput, 4},
		{"discrete_inputs", s.Values.DiscreteInputs, tableDiscrete, 2},
	}
	var attrs, tele []mb.Tag
	for _, b := range blocks {
		bpath := path + ".values." + b.name
		secs, paths, err := decodeSection(c.doc, bpath, b.raw, c.warn)
		if err != nil {
			return nil, nil, err
		}
		for _, sec := range []string{"attributes", "timeseries", "attributeUpdates", "rpc"} {
			for i := range secs[sec] {
				tc := &secs[sec][i]
				p := paths[sec][i]
				if err := c.initValue(p, tc, b.table, d.order, s.Repack, srv.store); err != nil {
					return nil, nil, err
				}
				switch sec {
				case "attributes", "timeseries":
					fc := b.read
					tc.FunctionCode = &fc
					tags, cp, err := c.readTag(p, tc, d, devReport)
					if err != nil {
						return nil, nil, err
					}
					if sec == "attributes" {
						attrs = append(attrs, tags...)
					} else {
						tele = append(tele, tags...)
					}
					_ = cp
				case "attributeUpdates":
					t, err := c.writeTag(p, tc, false)
					if err != nil {
						return nil, nil, err
					}
					d.writes = append(d.writes, t)
				case "rpc":
					t, err := c.writeTag(p, tc, true)
					if err != nil {
						return nil, nil, err
					}
					d.rpcs = append(d.rpcs, t)
				}
			}
		}
	}
	d.dev.Attributes, d.dev.Telemetry = attrs, tele
	d.caps = make([]int, len(attrs)+len(tele))
	if !s.SendDataToThingsBoard {
		return nil, nil, nil // checked, but not served (as upstream)
	}
	return srv, d, nil
}

// initValue stores an item's initial value: with function 5/6 for one
// object, 15/16 for several, as upstream.
func (c *compiler) initValue(path string, tc *tagConfig, table int, o binary.Order, repack bool, st *store) error {
	if len(tc.Value) == 0 {
		c.warn(c.errorf(path+".value", "missing: the object is not served"))
		return nil
	}
	count := objectsCount(tc)
	if count < 1 {
		return c.errorf(path+".objectsCount", "must be at least 1")
	}
	typ := tc.Type
	if typ == "" {
		typ = tc.Tag
	}
	k, err := mb.ParseType(typ, count)
	if err != nil {
		return c.errorf(path+".type", "%v", err)
	}
	addr, err := c.address(path+".address", tc.Address)
	if err != nil {
		return err
	}
	bitsTable := table == tableCoils || table == tableDiscrete
	fc := mb.WriteSingleRegister
	switch {
	case bitsTable && count <= 1:
		fc = mb.WriteSingleCoil
	case bitsTable:
		fc = mb.WriteMultipleCoils
	case count > 1:
		fc = mb.WriteMultipleRegisters
	}
	v, err := mb.ParseValue(tc.Value)
	if err != nil {
		return c.errorf(path+".value", "%v", err)
	}
	t := mb.Tag{Kind: k, Function: fc, Address: uint16(addr), Count: count, Repack: repack}
	w, err := t.EncodeWrite(v, o)
	if err != nil {
		return c.errorf(path+".value", "%v", err)
	}
	if int(w.Address)+len(w.Regs)+len(w.Bits) > 0x10000 {
		return c.errorf(path+".address", "value does not fit below address 65536")
	}
	if bitsTable {
		st.setBits(table, w.Address, w.Bits)
	} else {
		st.setRegs(table, w.Address, w.Regs)
	}
	return nil
}

// start serves the slave section's data until ctx ends; wait waits for
// the server to stop. The listener is opened before start returns, so a
// bind error is reported at once.
func (s *serverDef) start(ctx context.Context, g *kit.Group, log *slog.Logger) error {
	switch s.listen.network {
	case "tcp":
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", s.listen.addr)
		if err != nil {
			return fmt.Errorf("slave section: listen %s: %w", s.listen.addr, err)
		}
		if s.tls != nil {
			ln = tls.NewListener(ln, s.tls)
		}
		log.Info("serving", "tcp", ln.Addr().String(), "framing", s.listen.framing.String(), "tls", s.tls != nil)
		s.setAddr(ln.Addr().String())
		g.Go("modbus slave accept", func() error { s.acceptLoop(ctx, g, ln, log); return nil })
	case "udp":
		var lc net.ListenConfig
		pc, err := lc.ListenPacket(ctx, "udp", s.listen.addr)
		if err != nil {
			return fmt.Errorf("slave section: listen udp %s: %w", s.listen.addr, err)
		}
		log.Info("serving", "udp", pc.LocalAddr().String(), "framing", s.listen.framing.String())
		s.setAddr(pc.LocalAddr().String())
		stop := context.AfterFunc(ctx, func() { _ = pc.Close() })
		g.Go("modbus slave udp", func() error {
			defer stop()
			defer pc.Close()
			s.serveUDP(pc)
			return nil
		})
	case "serial":
		port, err := openSerial(s.listen.addr, s.listen.serial)
		if err != nil {
			return fmt.Errorf("slave section: %w", err)
		}
		log.Info("serving", "serial", s.listen.addr, "framing", s.listen.framing.String())
		stop := context.AfterFunc(ctx, func() { _ = port.Close() })
		g.Go("modbus slave serial", func() error {
			defer stop()
			defer port.Close()
			s.serveSerial(ctx, port, log)
			return nil
		})
	default:
		return fmt.Errorf("slave section: cannot serve on %q", s.listen.network)
	}
	return nil
}

func (s *serverDef) setAddr(a string) { s.bound.Store(a) }

// addr is the address actually bound (tests listen on port 0).
func (s *serverDef) addr() string {
	a, _ := s.bound.Load().(string)
	return a
}

func (s *serverDef) acceptLoop(ctx context.Context, g *kit.Group, ln net.Listener, log *slog.Logger) {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer ln.Close()
	sem := make(chan struct{}, s.maxConn)
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	defer func() {
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			log.Warn("accept", "err", err)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		c = quietsock.Wrap(c)
		select {
		case sem <- struct{}{}:
		default:
			log.Warn("too many connections, refusing", "from", c.RemoteAddr().String(), "max", s.maxConn)
			_ = c.Close()
			continue
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		g.Go("modbus slave connection", func() error {
			defer func() {
				_ = c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				<-sem
			}()
			s.serveConn(c, log)
			return nil
		})
	}
}

// serveConn answers requests on one TCP connection in its framing.
func (s *serverDef) serveConn(c net.Conn, log *slog.Logger) {
	var rbuf [600]byte
	var out, resp []byte
	for {
		var unit byte
		var pdu []byte
		var tid uint16
		switch s.listen.framing {
		case framingMBAP:
			if _, err := io.ReadFull(c, rbuf[:mb.MBAPHeaderLen]); err != nil {
				return
			}
			n, err := mb.MBAPLen(rbuf[:])
			if err != nil {
				log.Debug("bad frame, closing", "from", c.RemoteAddr().String(), "err", err)
				return
			}
			if _, err := io.ReadFull(c, rbuf[mb.MBAPHeaderLen:n]); err != nil {
				return
			}
			tid, unit, pdu, _ = mb.ParseMBAP(rbuf[:n])
		case framingRTU:
			n, err := readRTURequest(c, rbuf[:])
			if err != nil {
				return
			}
			var perr error
			if unit, pdu, perr = mb.ParseRTU(rbuf[:n]); perr != nil {
				continue
			}
		case framingASCII:
			frame, err := readLine(c, rbuf[:])
			if err != nil {
				return
			}
			var perr error
			if unit, pdu, perr = mb.ParseASCII(frame); perr != nil {
				continue
			}
		}
		resp = s.store.handle(resp[:0], pdu)
		out = appendADU(out[:0], s.listen.framing, tid, unit, resp)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func (s *serverDef) serveUDP(pc net.PacketConn) {
	var rbuf [600]byte
	var out, resp []byte
	for {
		n, from, err := pc.ReadFrom(rbuf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		tid, unit, pdu, perr := parseADU(s.listen.framing, rbuf[:n])
		if perr != nil {
			continue
		}
		resp = s.store.handle(resp[:0], pdu)
		out = appendADU(out[:0], s.listen.framing, tid, unit, resp)
		_, _ = pc.WriteTo(out, from)
	}
}

// serveSerial answers requests on a serial line. Only requests to the
// configured unit (any unit when it is 0) are answered; broadcasts (unit
// 0) are executed without an answer.
func (s *serverDef) serveSerial(ctx context.Context, port *serialStream, log *slog.Logger) {
	var rbuf [600]byte
	var out, resp []byte
	silence := s.listen.serial.silence()
	for ctx.Err() == nil {
		_ = port.SetReadDeadline(time.Time{})
		var unit byte
		var pdu []byte
		switch s.listen.framing {
		case framingASCII:
			frame, err := readLine(port, rbuf[:])
			if err != nil {
				if isClosed(err) {
					return
				}
				continue
			}
			var perr error
			if unit, pdu, perr = mb.ParseASCII(frame); perr != nil {
				continue
			}
		default:
			n, err := readRTURequest(port, rbuf[:])
			if err != nil {
				if isClosed(err) {
					return
				}
				drainStream(port, max(silence, 5*time.Millisecond))
				continue
			}
			var perr error
			if unit, pdu, perr = mb.ParseRTU(rbuf[:n]); perr != nil {
				drainStream(port, max(silence, 5*time.Millisecond))
				continue
			}
		}
		if unit != 0 && s.unit != 0 && unit != s.unit {
			continue // another device on the bus
		}
		resp = s.store.handle(resp[:0], pdu)
		if unit == 0 && s.unit != 0 {
			continue // broadcast: no answer
		}
		out = appendADU(out[:0], s.listen.framing, 0, unit, resp)
		time.Sleep(silence)
		if _, err := port.Write(out); err != nil {
			if isClosed(err) {
				return
			}
			log.Debug("serial write", "err", err)
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF)
}

// readRTURequest reads one RTU request frame; the length is told by the
// function code. Inter-character gaps longer than a second abort the
// frame.
func readRTURequest(r stream, b []byte) (int, error) {
	n, need := 0, 2
	for {
		for n < need {
			if n > 0 {
				_ = r.SetReadDeadline(time.Now().Add(time.Second))
			}
			m, err := r.Read(b[n:need])
			n += m
			if err != nil {
				return n, err
			}
		}
		total, err := mb.RTURequestLen(b[:n])
		if err != nil {
			return n, err
		}
		switch {
		case total == 0:
			need = n + 1
		case total > len(b):
			return n, fmt.Errorf("%w: RTU request of %d bytes", mb.ErrMalformed, total)
		case n >= total:
			_ = r.SetReadDeadline(time.Time{})
			return total, nil
		default:
			need = total
		}
	}
}

// readLine reads an ASCII frame up to LF, skipping bytes before ':'.
func readLine(r io.Reader, b []byte) ([]byte, error) {
	n := 0
	var one [1]byte
	for {
		if _, err := io.ReadFull(r, one[:]); err != nil {
			return nil, err
		}
		c := one[0]
		if n == 0 && c != ':' {
			continue
		}
		if c == ':' {
			n = 0
		}
		if n == len(b) {
			n = 0
			continue
		}
		b[n] = c
		n++
		if c == '\n' {
			return b[:n], nil
		}
	}
}

func drainStream(s stream, gap time.Duration) {
	var junk [256]byte
	for range 100 {
		_ = s.SetReadDeadline(time.Now().Add(gap))
		if n, err := s.Read(junk[:]); n == 0 || err != nil {
			break
		}
	}
	_ = s.SetReadDeadline(time.Time{})
}
