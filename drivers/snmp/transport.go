package snmp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// A sock is a UDP socket that several devices use in turn, one request at
// a time: requests go to the current peer and datagrams from anyone else
// are dropped. A worker owns a few (one per address family and loopback
// or not), so polling 500 agents needs a few sockets, not 500.
type sock struct {
	c       *net.UDPConn
	mu      sync.Mutex
	stopped bool
}

// past is a deadline that makes blocked reads return at once.
var past = time.Unix(1, 0)

func (s *sock) setDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		t = past
	}
	return s.c.SetDeadline(t)
}

func (s *sock) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	_ = s.c.SetDeadline(past)
}

type sockKey struct{ v6, loopback bool }

// sockets is the lazily opened set of sockets of one worker (or of one
// downlink request).
type sockets struct {
	mu      sync.Mutex
	stopped bool
	m       map[sockKey]*sock
}

var errStopped = errors.New("stopping")

// get returns the socket that reaches target, opening it on first use. A
// socket for a loopback target is bound to loopback only.
func (ss *sockets) get(target netip.Addr) (*sock, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.stopped {
		return nil, errStopped
	}
	k := sockKey{v6: target.Is6(), loopback: target.IsLoopback()}
	if s, ok := ss.m[k]; ok {
		return s, nil
	}
	network, laddr := "udp4", &net.UDPAddr{}
	if k.v6 {
		network = "udp6"
	}
	if k.loopback {
		laddr.IP = net.IPv4(127, 0, 0, 1)
		if k.v6 {
			laddr.IP = net.IPv6loopback
		}
	}
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if ss.m == nil {
		ss.m = map[sockKey]*sock{}
	}
	s := &sock{c: c}
	ss.m[k] = s
	return s, nil
}

// stop unblocks every read in progress and makes later ones fail at once.
func (ss *sockets) stop() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.stopped = true
	for _, s := range ss.m {
		s.stop()
	}
}

// close closes every socket; the set cannot be used afterwards.
func (ss *sockets) close() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.stopped = true
	for k, s := range ss.m {
		_ = s.c.Close()
		delete(ss.m, k)
	}
}

// peer is the net.Conn gosnmp talks through while one device is served:
// it writes to the device and reads only what the device sends back. It
// deliberately does not implement net.PacketConn, so gosnmp uses Read and
// Write.
type peer struct {
	s  *sock
	to netip.AddrPort
}

func (p *peer) Read(b []byte) (int, error) {
	for {
		n, from, err := p.s.c.ReadFromUDPAddrPort(b)
		if err != nil {
			return 0, err
		}
		if from.Port() == p.to.Port() && from.Addr().Unmap() == p.to.Addr() {
			return n, nil
		}
		// A late answer from another agent: drop it and wait on (the
		// deadline bounds this loop).
	}
}

func (p *peer) Write(b []byte) (int, error)        { return p.s.c.WriteToUDPAddrPort(b, p.to) }
func (p *peer) Close() error                       { return nil } // the socket outlives the peer
func (p *peer) LocalAddr() net.Addr                { return p.s.c.LocalAddr() }
func (p *peer) RemoteAddr() net.Addr               { return net.UDPAddrFromAddrPort(p.to) }
func (p *peer) SetDeadline(t time.Time) error      { return p.s.setDeadline(t) }
func (p *peer) SetReadDeadline(t time.Time) error  { return p.s.setDeadline(t) }
func (p *peer) SetWriteDeadline(t time.Time) error { return nil }

var _ net.Conn = (*peer)(nil)
