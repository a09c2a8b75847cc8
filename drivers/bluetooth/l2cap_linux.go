package bluetooth

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

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

// ReadBuffer is the receive buffer Dial asks for: the kernel queues the
// peer's PDUs (notifications) in it while the reader is behind and drops
// what does not fit (counted, see Drops). Each queued PDU costs about
// 1 KiB of the buffer whatever its size, and memory is only used while
// PDUs wait, so 1 MiB holds a burst of about a thousand notifications.
const ReadBuffer = 1 << 20

// SetReadBuffer sets the socket's receive buffer (SO_RCVBUF; the kernel
// doubles the value for its bookkeeping). Above the system's
// net.core.rmem_max it needs CAP_NET_ADMIN (SO_RCVBUFFORCE), otherwise
// the kernel caps it.
func (c *Channel) SetReadBuffer(n int) error {
	rc, err := c.s.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n); serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
	}); err != nil {
		return err
	}
	return serr
}

// skMeminfoDrops is the index of the drop counter in SO_MEMINFO's values
// (SK_MEMINFO_DROPS of linux/sock_diag.h).
const skMeminfoDrops = 8

// Drops is how many received PDUs the kernel dropped on this channel
// because its receive buffer was full (the socket's drop counter, read
// with SO_MEMINFO). For ATT these are notifications, or responses whose
// request then times out. The kernel does not tell the peer.
func (c *Channel) Drops() (uint64, error) {
	rc, err := c.s.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var mem [skMeminfoDrops + 1]uint32
	var serr error
	if err := rc.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(mem))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e != 0 {
			serr = fmt.Errorf("getsockopt SO_MEMINFO: %w", e)
		} else if n < uint32(unsafe.Sizeof(mem)) {
			serr = fmt.Errorf("getsockopt SO_MEMINFO: %d bytes", n)
		}
	}); err != nil {
		return 0, err
	}
	return uint64(mem[skMeminfoDrops]), serr
}

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
	ch := &Channel{s: s, Remote: addr, RemoteType: typ}
	_ = ch.SetReadBuffer(ReadBuffer) // best effort: the default holds ~200 notifications
	return ch, nil
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
