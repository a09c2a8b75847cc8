package bacnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/bacnet"
)

// errTimeout is returned when a device does not answer a confirmed
// request within the APDU timeout and retries.
var errTimeout = errors.New("no answer")

// client is the BACnet/IP transport and transaction state machine: it
// owns the UDP socket, numbers confirmed requests per peer, retries them,
// segments requests and reassembles segmented answers, and hands
// unconfirmed traffic (I-Am, COV notifications) to a handler.
type client struct {
	conn      *net.UDPConn
	log       *slog.Logger
	self      netip.AddrPort // our own address, to drop our broadcasts
	broadcast netip.AddrPort
	foreign   netip.AddrPort // BBMD when registered as a foreign device
	maxAPDU   int
	seg       bacnet.Segmentation
	window    uint8
	timeout   time.Duration
	retries   int

	// handler gets unconfirmed requests and confirmed COV notifications
	// (already acknowledged); it must not block for long.
	handler func(src peer, a bacnet.APDU)
	// server answers confirmed requests addressed to the gateway's own
	// device object; nil answers Reject.
	server func(src peer, a bacnet.APDU) (bacnet.APDU, bool)

	mu      sync.Mutex
	pending map[txnKey]*txn
	next    map[peer]uint8

	fdResult chan uint16 // BVLC-Result codes while registering
	sent     atomic.Uint64
	received atomic.Uint64
	dropped  atomic.Uint64
}

type txnKey struct {
	p  peer
	id uint8
}

// txn is one outstanding confirmed request.
type txn struct {
	key      txnKey
	resp     chan bacnet.APDU // the final answer (buffered 1)
	segAck   chan bacnet.APDU // SegmentACKs for a segmented request
	progress chan struct{}    // a segment of the answer arrived
	reasm    *bacnet.Reassembly
}

// maxReassembly bounds a reassembled answer (64 segments of 1476).
const maxReassembly = 64 * 1476

func newClient(conn *net.UDPConn, log *slog.Logger, p *plan) *client {
	self := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return &client{
		conn: conn, log: log, self: netip.AddrPortFrom(self.Addr().Unmap(), self.Port()),
		broadcast: netip.AddrPortFrom(p.broadcast, DefaultPort),
		maxAPDU:   p.maxAPDU, seg: p.seg, window: p.window, timeout: p.apduTimeout, retries: p.retries,
		pending: map[txnKey]*txn{}, next: map[peer]uint8{}, fdResult: make(chan uint16, 1),
	}
}

// send writes one datagram to a peer (through its router when remote).
func (c *client) send(p peer, expectReply bool, a bacnet.APDU) error {
	n := bacnet.NPDU{ExpectingReply: expectReply}
	if p.net != 0 {
		n.HasDest, n.Dest = true, bacnet.Address{Net: p.net, MAC: []byte(p.mac)}
	}
	b, err := bacnet.AppendMessage(nil, bacnet.BVLCOriginalUnicastNPDU, n, a)
	if err != nil {
		return err
	}
	return c.write(b, p.ip)
}

func (c *client) write(b []byte, to netip.AddrPort) error {
	if _, err := c.conn.WriteToUDPAddrPort(b, to); err != nil {
		return err
	}
	c.sent.Add(1)
	return nil
}

// broadcastTo sends an unconfirmed request as a broadcast: on the local
// network (to port), or to remote network dnet (GlobalNetwork: all), with
// dadr a station on it (nil: broadcast there). As a foreign device it goes
// through the BBMD instead.
func (c *client) broadcastTo(port uint16, dnet uint16, dadr []byte, a bacnet.APDU) error {
	n := bacnet.NPDU{}
	if dnet != 0 {
		n.HasDest, n.Dest = true, bacnet.Address{Net: dnet, MAC: dadr}
	}
	if c.foreign.IsValid() {
		b, err := bacnet.AppendMessage(nil, bacnet.BVLCDistributeBroadcastToNetwrk, n, a)
		if err != nil {
			return err
		}
		return c.write(b, c.foreign)
	}
	b, err := bacnet.AppendMessage(nil, bacnet.BVLCOriginalBroadcastNPDU, n, a)
	if err != nil {
		return err
	}
	return c.write(b, netip.AddrPortFrom(c.broadcast.Addr(), port))
}

// registerForeign sends Register-Foreign-Device to the BBMD and waits for
// its BVLC-Result.
func (c *client) registerForeign(ctx context.Context, ttl time.Duration) error {
	b, err := bacnet.AppendBVLC(nil, bacnet.BVLC{Function: bacnet.BVLCRegisterForeignDevice, TTL: uint16(min(ttl/time.Second, 65535))})
	if err != nil {
		return err
	}
	for try := 0; try <= c.retries; try++ {
		select { // drop a stale result
		case <-c.fdResult:
		default:
		}
		if err := c.write(b, c.foreign); err != nil {
			return fmt.Errorf("register with BBMD %s: %w", c.foreign, err)
		}
		t := time.NewTimer(c.timeout)
		select {
		case code := <-c.fdResult:
			t.Stop()
			if code != bacnet.BVLCSuccess {
				return fmt.Errorf("BBMD %s refused the registration (result 0x%04X)", c.foreign, code)
			}
			return nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return fmt.Errorf("register with BBMD %s: %w", c.foreign, errTimeout)
}

// newTxn allocates an invoke ID for p.
func (c *client) newTxn(p peer) (*txn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.next[p]
	for i := 0; i < 256; i++ {
		id := start + uint8(i)
		k := txnKey{p, id}
		if _, busy := c.pending[k]; busy {
			continue
		}
		c.next[p] = id + 1
		t := &txn{key: k, resp: make(chan bacnet.APDU, 1), segAck: make(chan bacnet.APDU, 4), progress: make(chan struct{}, 1)}
		c.pending[k] = t
		return t, nil
	}
	return nil, fmt.Errorf("256 requests outstanding to %s", p)
}

func (c *client) done(t *txn) {
	c.mu.Lock()
	delete(c.pending, t.key)
	c.mu.Unlock()
}

// target describes what a device accepts.
type target struct {
	peer    peer
	maxAPDU int
	seg     bacnet.Segmentation
}

// request sends a confirmed request and returns the ComplexACK service
// data (nil for a SimpleACK). BACnet errors come back as *bacnet.Error,
// *bacnet.RejectError or *bacnet.AbortError.
func (c *client) request(ctx context.Context, to target, service byte, data []byte) ([]byte, error) {
	t, err := c.newTxn(to.peer)
	if err != nil {
		return nil, err
	}
	defer c.done(t)
	req := bacnet.APDU{Type: bacnet.PDUConfirmedRequest, InvokeID: t.key.id, Service: service, ServiceData: data,
		MaxAPDU: bacnet.EncodeMaxAPDU(c.maxAPDU)}
	if c.seg.CanReceive() {
		req.SegmentedResponseAccepted = true
		req.MaxSegments = bacnet.EncodeMaxSegments(64)
	}
	peerMax := to.maxAPDU
	if peerMax < 50 {
		peerMax = 50
	}
	segs, err := bacnet.Segment(req, min(peerMax, c.maxAPDU), c.window, 0)
	if err != nil {
		return nil, err
	}
	if len(segs) > 1 && (!c.seg.CanTransmit() || !to.seg.CanReceive()) {
		return nil, fmt.Errorf("request of %d octets does not fit %d and segmentation is not possible", len(data), peerMax)
	}
	var last error = errTimeout
	for try := 0; try <= c.retries; try++ {
		if len(segs) == 1 {
			if err := c.send(to.peer, true, segs[0]); err != nil {
				return nil, err
			}
		} else if err := c.sendSegments(ctx, t, to.peer, segs); err != nil {
			if errors.Is(err, errTimeout) {
				continue
			}
			return nil, err
		}
		a, err := c.await(ctx, t)
		if errors.Is(err, errTimeout) {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch a.Type {
		case bacnet.PDUSimpleACK:
			return nil, nil
		case bacnet.PDUComplexACK:
			if a.Service != service {
				return nil, fmt.Errorf("answer for service %d to a service %d request", a.Service, service)
			}
			if a.ServiceData == nil {
				a.ServiceData = []byte{}
			}
			return a.ServiceData, nil
		case bacnet.PDUError:
			e, err := bacnet.DecodeError(a.ServiceData)
			if err != nil {
				return nil, err
			}
			return nil, e
		case bacnet.PDUReject:
			return nil, &bacnet.RejectError{Reason: a.Reason}
		case bacnet.PDUAbort:
			return nil, &bacnet.AbortError{Reason: a.Reason, Server: a.Server}
		}
		last = fmt.Errorf("unexpected PDU type %d", a.Type)
	}
	return nil, last
}

// await waits for the final answer; segments of it extend the wait.
func (c *client) await(ctx context.Context, t *txn) (bacnet.APDU, error) {
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	for {
		select {
		case a := <-t.resp:
			return a, nil
		case <-t.progress:
			timer.Reset(c.timeout)
		case <-timer.C:
			return bacnet.APDU{}, errTimeout
		case <-ctx.Done():
			return bacnet.APDU{}, ctx.Err()
		}
	}
}

// sendSegments sends a segmented request window by window (clause
// 5.4.4.2): the first segment alone, then as many as the server's actual
// window allows before each SegmentACK.
func (c *client) sendSegments(ctx context.Context, t *txn, p peer, segs []bacnet.APDU) error {
	window := 1
	next := 0
	budget := 4*len(segs) + 16 // bounds resends a NAKing peer can cause
	for next < len(segs) {
		end := min(next+window, len(segs))
		for _, s := range segs[next:end] {
			if budget--; budget < 0 {
				return fmt.Errorf("segmented request: too many resends")
			}
			if err := c.send(p, true, s); err != nil {
				return err
			}
		}
		timer := time.NewTimer(c.timeout)
		var ack bacnet.APDU
		select {
		case ack = <-t.segAck:
			timer.Stop()
		case a := <-t.resp: // an early Abort/Error/Reject: keep it for await
			timer.Stop()
			t.resp <- a
			return nil
		case <-timer.C:
			return errTimeout
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		window = min(max(int(ack.WindowSize), 1), 127)
		// The ACK (or NAK) names the last segment received in order:
		// continue (or resend) from the one after it.
		next = min(int(ack.Sequence)+1, len(segs))
	}
	return nil
}

// read receives datagrams until the socket is closed.
func (c *client) read(ctx context.Context, conn *net.UDPConn) error {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			c.log.Warn("bacnet: receive", "err", err)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if from == c.self {
			continue // our own broadcast
		}
		c.received.Add(1)
		// The packet is handed on; copy it out of the read buffer.
		c.dispatch(from, append([]byte(nil), buf[:n]...))
	}
}

func (c *client) dispatch(from netip.AddrPort, b []byte) {
	m, err := bacnet.DecodeMessage(b)
	if err != nil {
		c.dropped.Add(1)
		c.log.Debug("bacnet: malformed datagram", "from", from, "err", err)
		return
	}
	if m.BVLC.Function == bacnet.BVLCResult {
		select {
		case c.fdResult <- m.BVLC.Result:
		default:
		}
		return
	}
	if !m.BVLC.CarriesNPDU() || m.NPDU.Network {
		return // table management and network layer messages: not ours
	}
	src := peer{ip: from}
	if m.BVLC.Function == bacnet.BVLCForwardedNPDU {
		src.ip = m.BVLC.Origin
	}
	if m.NPDU.HasSource {
		src.net, src.mac = m.NPDU.Source.Net, string(m.NPDU.Source.MAC)
	}
	if m.NPDU.HasDest && m.NPDU.Dest.Net != bacnet.GlobalNetwork {
		return // for a remote network: we are not a router
	}
	a := m.APDU
	switch a.Type {
	case bacnet.PDUUnconfirmedRequest:
		c.handler(src, a)
	case bacnet.PDUConfirmedRequest:
		c.serve(src, a)
	case bacnet.PDUSimpleACK, bacnet.PDUComplexACK, bacnet.PDUError, bacnet.PDUReject, bacnet.PDUAbort, bacnet.PDUSegmentACK:
		c.answer(src, a)
	}
}

// serve handles confirmed requests to the gateway: COV notifications are
// acknowledged and handed on; requests to our device object are answered.
func (c *client) serve(src peer, a bacnet.APDU) {
	if a.Segmented {
		_ = c.send(src, false, bacnet.APDU{Type: bacnet.PDUAbort, Server: true, InvokeID: a.InvokeID, Reason: bacnet.AbortSegmentationNotSupported})
		return
	}
	if a.Service == bacnet.ServiceConfirmedCOVNotification {
		_ = c.send(src, false, bacnet.APDU{Type: bacnet.PDUSimpleACK, InvokeID: a.InvokeID, Service: a.Service})
		c.handler(src, a)
		return
	}
	if c.server != nil {
		if resp, ok := c.server(src, a); ok {
			if err := c.send(src, false, resp); err != nil {
				c.log.Debug("bacnet: answer", "to", src, "err", err)
			}
			return
		}
	}
	_ = c.send(src, false, bacnet.APDU{Type: bacnet.PDUReject, InvokeID: a.InvokeID, Reason: 9})
}

// answer routes an answer to its transaction.
func (c *client) answer(src peer, a bacnet.APDU) {
	c.mu.Lock()
	t := c.pending[txnKey{src, a.InvokeID}]
	c.mu.Unlock()
	if t == nil {
		c.dropped.Add(1)
		return
	}
	switch {
	case a.Type == bacnet.PDUSegmentACK:
		select {
		case t.segAck <- a:
		default:
		}
	case a.Type == bacnet.PDUComplexACK && a.Segmented:
		c.segment(src, t, a)
	default:
		select {
		case t.resp <- a:
		default:
		}
	}
}

// segment feeds one segment of an answer to its reassembly.
func (c *client) segment(src peer, t *txn, a bacnet.APDU) {
	if !c.seg.CanReceive() {
		_ = c.send(src, false, bacnet.APDU{Type: bacnet.PDUAbort, InvokeID: a.InvokeID, Reason: bacnet.AbortSegmentationNotSupported})
		return
	}
	select {
	case t.progress <- struct{}{}:
	default:
	}
	// Only this goroutine (the reader) touches t.reasm.
	if t.reasm == nil {
		if a.Sequence != 0 {
			return // a segment before the first: the server will resend
		}
		r, ack, err := bacnet.NewReassembly(a, c.window, maxReassembly)
		if err != nil {
			c.abort(src, t, a.InvokeID, bacnet.AbortWindowSizeOutOfRange, err)
			return
		}
		t.reasm = r
		_ = c.send(src, false, ack)
		if !a.MoreFollows {
			c.deliver(t, r.Message())
		}
		return
	}
	ack, done, err := t.reasm.Add(a)
	if err != nil {
		c.abort(src, t, a.InvokeID, bacnet.AbortBufferOverflow, err)
		return
	}
	if ack != nil {
		_ = c.send(src, false, *ack)
	}
	if done {
		c.deliver(t, t.reasm.Message())
	}
}

func (c *client) deliver(t *txn, a bacnet.APDU) {
	select {
	case t.resp <- a:
	default:
	}
}

func (c *client) abort(src peer, t *txn, id uint8, reason byte, err error) {
	_ = c.send(src, false, bacnet.APDU{Type: bacnet.PDUAbort, InvokeID: id, Reason: reason})
	select {
	case t.resp <- bacnet.APDU{Type: bacnet.PDUAbort, InvokeID: id, Reason: reason}:
	default:
	}
	c.log.Debug("bacnet: segmented answer aborted", "from", src, "err", err)
}
