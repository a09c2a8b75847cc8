package knx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/codec/knx"
	"github.com/tbgw/tbgw/drivers/kit"
)

// link is a connection to the KNX bus: a tunnel or the routing multicast
// group.
type link interface {
	// send transmits a cEMI L_Data frame; a tunnel returns once the
	// gateway acknowledged (and, when it confirms, confirmed) it.
	send(ctx context.Context, c knx.CEMI) error
	// run receives until the link fails or close is called.
	run() error
	close()
	String() string
}

// tunnel is a KNXnet/IP tunnelling connection over UDP.
type tunnel struct {
	log       *slog.Logger
	conn      *net.UDPConn
	gw        netip.AddrPort
	ctl       knx.HPAI
	channel   byte
	addr      knx.Individual
	heartbeat time.Duration
	onInd     func(knx.CEMI)

	sendMu sync.Mutex // one tunnelling request in flight
	seqOut byte
	seqIn  byte

	acks   chan knx.Tunnel
	cons   chan knx.CEMI
	states chan byte

	done      chan struct{}
	closeOnce sync.Once
	err       error
	errOnce   sync.Once
}

const (
	ackTimeout     = time.Second      // TUNNELLING_REQUEST → ACK (spec: 1 s, one repetition)
	conTimeout     = 3 * time.Second  // L_Data.req → L_Data.con
	stateTimeout   = 10 * time.Second // CONNECTIONSTATE_REQUEST → RESPONSE (spec)
	connectTimeout = 10 * time.Second
)

func dialTunnel(ctx context.Context, log *slog.Logger, local, gw netip.AddrPort, heartbeat time.Duration, onInd func(knx.CEMI)) (*tunnel, error) {
	conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(local), net.UDPAddrFromAddrPort(gw))
	if err != nil && errors.Is(err, syscall.EADDRINUSE) && local.Port() != 0 {
		// localPort is often the KNXnet/IP port itself (upstream's
		// sample), taken when the gateway runs on this host.
		log.Warn("knx: localPort in use; tunnelling from a free port", "localPort", local.Port())
		conn, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local.Addr(), 0)), net.UDPAddrFromAddrPort(gw))
	}
	if err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", gw, err)
	}
	t := &tunnel{log: log, conn: conn, gw: gw, heartbeat: heartbeat, onInd: onInd,
		acks: make(chan knx.Tunnel, 4), cons: make(chan knx.CEMI, 4), states: make(chan byte, 2), done: make(chan struct{})}
	la := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	t.ctl = knx.HPAI{Addr: netip.AddrPortFrom(la.Addr().Unmap(), la.Port())}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := knx.AppendConnectRequest(nil, t.ctl, t.ctl)
	buf := make([]byte, knx.MaxFrame)
	deadline := time.Now().Add(connectTimeout)
	for try := 0; ; try++ {
		if _, err := conn.Write(req); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tunnel to %s: %w", gw, err)
		}
		next := time.Now().Add(3 * time.Second)
		if next.After(deadline) {
			next = deadline
		}
		_ = conn.SetReadDeadline(next)
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Now().Before(deadline) && ctx.Err() == nil {
				continue
			}
			conn.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("tunnel to %s: no connect response: %w", gw, err)
		}
		f, err := knx.ParseFrame(buf[:n])
		if err != nil || f.Service != knx.ConnectResponse {
			continue
		}
		r, err := knx.ParseConnectResponse(f.Body)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("tunnel to %s: %w", gw, err)
		}
		if r.Status != knx.StatusOK {
			conn.Close()
			return nil, fmt.Errorf("tunnel to %s refused: %s", gw, knx.StatusText(r.Status))
		}
		t.channel, t.addr = r.Channel, r.Address
		break
	}
	_ = conn.SetReadDeadline(time.Time{})
	return t, nil
}

func (t *tunnel) String() string {
	return fmt.Sprintf("tunnel to %s (channel %d, address %s)", t.gw, t.channel, t.addr)
}

func (t *tunnel) fail(err error) {
	t.errOnce.Do(func() { t.err = err })
	t.close()
}

func (t *tunnel) close() {
	t.closeOnce.Do(func() {
		close(t.done)
		// Say goodbye so that the gateway frees the channel at once.
		_, _ = t.conn.Write(knx.AppendConnectionState(nil, knx.DisconnectRequest, t.channel, t.ctl))
		t.conn.Close()
	})
}

// run reads frames and sends heartbeats until the tunnel fails or is
// closed.
func (t *tunnel) run() error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ends with t.done; run waits for it
		defer wg.Done()
		if err := kit.Protect("knx heartbeat", func() error { t.keepAlive(); return nil }); err != nil {
			t.fail(err)
		}
	}()
	buf := make([]byte, knx.MaxFrame)
	for {
		n, err := t.conn.Read(buf)
		if err != nil {
			select {
			case <-t.done:
			default:
				t.fail(fmt.Errorf("%s: %w", t, err))
			}
			break
		}
		t.handle(buf[:n])
	}
	wg.Wait()
	return t.err
}

func (t *tunnel) handle(b []byte) {
	f, err := knx.ParseFrame(b)
	if err != nil {
		t.log.Debug("knx: bad frame", "err", err)
		return
	}
	switch f.Service {
	case knx.TunnellingRequest:
		r, err := knx.ParseTunnel(f.Body)
		if err != nil || r.Channel != t.channel {
			return
		}
		switch r.Seq {
		case t.seqIn:
			_, _ = t.conn.Write(knx.AppendTunnellingAck(nil, t.channel, r.Seq, 0))
			t.seqIn++
		case t.seqIn - 1: // a repetition: our ACK was lost
			_, _ = t.conn.Write(knx.AppendTunnellingAck(nil, t.channel, r.Seq, 0))
			return
		default: // out of sequence: discard (spec)
			return
		}
		c, err := knx.ParseCEMI(r.CEMI)
		if err != nil {
			t.log.Debug("knx: bad cEMI", "err", err)
			return
		}
		if c.Code == knx.LDataCon {
			select {
			case t.cons <- c:
			default:
			}
			return
		}
		if c.Code == knx.LDataInd {
			t.onInd(c)
		}
	case knx.TunnellingAck:
		if r, err := knx.ParseTunnel(f.Body); err == nil && r.Channel == t.channel {
			select {
			case t.acks <- r:
			default:
			}
		}
	case knx.ConnectionStateResponse:
		if ch, st, err := knx.ParseChannelStatus(f.Body); err == nil && ch == t.channel {
			select {
			case t.states <- st:
			default:
			}
		}
	case knx.DisconnectRequest:
		if ch, _, err := knx.ParseChannelStatus(f.Body); err == nil && ch == t.channel {
			_, _ = t.conn.Write(knx.AppendChannelStatus(nil, knx.DisconnectResponse, t.channel, 0))
			t.fail(fmt.Errorf("%s: the gateway closed the connection", t))
		}
	}
}

// keepAlive sends a CONNECTIONSTATE_REQUEST every heartbeat; three
// unanswered or failed ones end the tunnel.
func (t *tunnel) keepAlive() {
	timer := time.NewTimer(t.heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-timer.C:
		}
		ok := false
		for try := 0; try < 3 && !ok; try++ {
			select {
			case <-t.states: // stale
			default:
			}
			if _, err := t.conn.Write(knx.AppendConnectionState(nil, knx.ConnectionStateRequest, t.channel, t.ctl)); err != nil {
				t.fail(fmt.Errorf("%s: %w", t, err))
				return
			}
			wait := time.NewTimer(stateTimeout)
			select {
			case st := <-t.states:
				if st != knx.StatusOK {
					wait.Stop()
					t.fail(fmt.Errorf("%s: connection state: %s", t, knx.StatusText(st)))
					return
				}
				ok = true
			case <-wait.C:
			case <-t.done:
				wait.Stop()
				return
			}
			wait.Stop()
		}
		if !ok {
			t.fail(fmt.Errorf("%s: no connection state response", t))
			return
		}
		timer.Reset(t.heartbeat)
	}
}

func (t *tunnel) send(ctx context.Context, c knx.CEMI) error {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	c.Code = knx.LDataReq
	c.Src = 0 // the gateway fills in the tunnel's address
	frame := knx.AppendTunnelling(nil, t.channel, t.seqOut, c.Append(nil))
	for {
		select {
		case <-t.acks:
		case <-t.cons:
		default:
			goto drained
		}
	}
drained:
	acked := false
	for try := 0; try < 2 && !acked; try++ {
		if _, err := t.conn.Write(frame); err != nil {
			t.fail(fmt.Errorf("%s: %w", t, err))
			return t.err
		}
		timer := time.NewTimer(ackTimeout)
	wait:
		for {
			select {
			case a := <-t.acks:
				if a.Seq != t.seqOut {
					continue
				}
				if a.Status != 0 {
					timer.Stop()
					return fmt.Errorf("%s: request refused: %s", t, knx.StatusText(a.Status))
				}
				acked = true
				break wait
			case <-timer.C:
				break wait
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-t.done:
				timer.Stop()
				return fmt.Errorf("%s: closed", t)
			}
		}
		timer.Stop()
	}
	if !acked {
		// Spec: no ACK after one repetition ends the connection.
		t.fail(fmt.Errorf("%s: no acknowledgement", t))
		return t.err
	}
	t.seqOut++
	timer := time.NewTimer(conTimeout)
	defer timer.Stop()
	for {
		select {
		case con := <-t.cons:
			if con.Dst != c.Dst {
				continue
			}
			if !con.Confirmed() {
				return fmt.Errorf("%s: the gateway could not send the telegram to the bus", t)
			}
			return nil
		case <-timer.C:
			return nil // acknowledged; some gateways never confirm
		case <-ctx.Done():
			return nil
		case <-t.done:
			return nil
		}
	}
}
