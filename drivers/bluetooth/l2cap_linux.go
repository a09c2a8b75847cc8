package bluetooth

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

const cidATT = 4 // the LE ATT fixed channel

// Channel is an L2CAP LE connection on the ATT fixed channel. It
// implements Bearer.
type Channel struct {
	s          *sock
	Remote     Addr
	RemoteType AddrType
}

func (c *Channel) ReadPDU(ctx context.Context, b []byte) (int, error) { return c.s.read(ctx, b) }
func (c *Channel) WritePDU(ctx context.Context, b []byte) error       { return c.s.write(ctx, b) }

// Close closes the channel; the kernel drops the LE link when no other
// channel uses it.
func (c *Channel) Close() error { return c.s.Close() }

// local is the address an ATT socket of this controller binds to: the
// controller's LE identity address. The kernel routes a connection by it
// and gives an incoming link to the listener whose address and type match
// the identity, so a peripheral with a static random address that bound
// its public one never saw a connection (the kernel dropped the central's
// ATT requests and disconnected the unused link after a few seconds: the
// central read ECONNRESET at its first request).
func (a *Adapter) local(ctx context.Context) (*unix.SockaddrL2, error) {
	addr, typ, err := a.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return &unix.SockaddrL2{Addr: addr, AddrType: uint8(typ), CID: cidATT}, nil
}

// Dial connects to a peripheral's ATT channel: the kernel creates the LE
// connection. ctx bounds the attempt (upstream's device "timeout").
func (a *Adapter) Dial(ctx context.Context, addr Addr, typ AddrType) (*Channel, error) {
	local, err := a.local(ctx)
	if err != nil {
		return nil, err
	}
	var cerr error
	s, err := newSock("l2cap-att", unix.SOCK_SEQPACKET, unix.BTPROTO_L2CAP, func(fd int) error {
		if err := unix.Bind(fd, local); err != nil {
			return fmt.Errorf("bind %v: %w", a, err)
		}
		cerr = unix.Connect(fd, &unix.SockaddrL2{Addr: addr, AddrType: uint8(typ), CID: cidATT})
		if cerr != nil && !errors.Is(cerr, unix.EINPROGRESS) {
			return fmt.Errorf("connect %v (%v): %w", addr, typ, cerr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		if err := s.waitConnected(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("connect %v (%v): %w", addr, typ, err)
		}
	}
	return &Channel{s: s, Remote: addr, RemoteType: typ}, nil
}

// Listener accepts ATT connections from centrals (a peripheral's side).
type Listener struct{ s *sock }

// ListenATT listens on this controller's ATT fixed channel. Only one
// listener per controller receives connections, so this conflicts with a
// bluetoothd serving GATT on the same controller. Set the controller's
// static address (if any) and power it on before.
func (a *Adapter) ListenATT(ctx context.Context) (*Listener, error) {
	local, err := a.local(ctx)
	if err != nil {
		return nil, err
	}
	s, err := newSock("l2cap-att-listen", unix.SOCK_SEQPACKET, unix.BTPROTO_L2CAP, func(fd int) error {
		if err := unix.Bind(fd, local); err != nil {
			return fmt.Errorf("bind %v ATT: %w", a, err)
		}
		return unix.Listen(fd, 4)
	})
	if err != nil {
		return nil, err
	}
	return &Listener{s: s}, nil
}

// Close stops listening.
func (l *Listener) Close() error { return l.s.Close() }

// Accept waits for a central to connect.
func (l *Listener) Accept(ctx context.Context) (*Channel, error) {
	rc, err := l.s.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	defer l.s.guard(ctx, l.s.f.SetReadDeadline)()
	var nfd int
	var sa unix.Sockaddr
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		nfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return !errors.Is(aerr, unix.EAGAIN)
	})
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if aerr != nil {
		return nil, aerr
	}
	s, err := newSockFD(nfd, "l2cap-att")
	if err != nil {
		return nil, err
	}
	ch := &Channel{s: s}
	if l2, ok := sa.(*unix.SockaddrL2); ok {
		// x/sys reverses the address into the kernel's byte order for
		// bind and connect but returns the kernel's order from accept.
		ch.Remote, ch.RemoteType = addrFromWire(l2.Addr[:]), AddrType(l2.AddrType)
	}
	return ch, nil
}
