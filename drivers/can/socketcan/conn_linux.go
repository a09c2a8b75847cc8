//go:build linux

package socketcan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is a CAN_RAW socket bound to one interface.
type Conn struct {
	name string
	f    *os.File
	rc   syscall.RawConn
	fd   bool

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
	dropped   atomic.Uint32 // SO_RXQ_OVFL: frames the kernel dropped for a full buffer
	rbuf      [FDMTU]byte
	oob       [64]byte
	rmu       sync.Mutex // one reader at a time (rbuf)
	wmu       sync.Mutex
	wbuf      []byte
}

// Open opens a CAN_RAW socket on interface ifname, which must exist and
// be up.
func Open(ifname string, o Options) (*Conn, error) {
	ifi, err := upInterface(ifname)
	if err != nil {
		return nil, err
	}
	if o.FD && ifi.MTU != FDMTU {
		return nil, fmt.Errorf("socketcan: %s: interface has MTU %d, not CAN FD (%d); set \"backend\": {\"fd\": false} or configure the interface for FD", ifname, ifi.MTU, FDMTU)
	}
	fd, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		return nil, os.NewSyscallError("socket(AF_CAN, CAN_RAW)", err)
	}
	if err := setup(fd, ifi.Index, o); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socketcan: %s: %w", ifname, err)
	}
	f := os.NewFile(uintptr(fd), "can:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Conn{name: ifname, f: f, rc: rc, fd: o.FD}, nil
}

func upInterface(ifname string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("socketcan: interface %s: %w", ifname, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("socketcan: interface %s is down: %w", ifname, unix.ENETDOWN)
	}
	return ifi, nil
}

func setup(fd, ifindex int, o Options) error {
	if o.FD {
		if err := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_FD_FRAMES, 1); err != nil {
			return os.NewSyscallError("setsockopt(CAN_RAW_FD_FRAMES)", err)
		}
	}
	if o.Filters != nil && len(o.Filters) <= MaxFilters {
		b := make([]byte, 0, 8*len(o.Filters))
		for _, flt := range o.Filters {
			id, mask := flt.ID&maskSFF, uint32(flagEFF|flagRTR|maskSFF)
			if flt.Extended {
				id, mask = flt.ID&maskEFF|flagEFF, flagEFF|flagRTR|maskEFF
			}
			b = binary.NativeEndian.AppendUint32(b, id)
			b = binary.NativeEndian.AppendUint32(b, mask)
		}
		if err := unix.SetsockoptString(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_FILTER, string(b)); err != nil {
			return os.NewSyscallError("setsockopt(CAN_RAW_FILTER)", err)
		}
	}
	if o.ErrorFrames {
		if err := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_ERR_FILTER, errAllClasses); err != nil {
			return os.NewSyscallError("setsockopt(CAN_RAW_ERR_FILTER)", err)
		}
	}
	if o.ReceiveOwn {
		if err := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_RECV_OWN_MSGS, 1); err != nil {
			return os.NewSyscallError("setsockopt(CAN_RAW_RECV_OWN_MSGS)", err)
		}
	}
	// Count the frames the kernel drops because the receive buffer is
	// full; the count arrives with every frame read.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		return os.NewSyscallError("setsockopt(SO_RXQ_OVFL)", err)
	}
	if o.ReadBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.ReadBuffer); err != nil {
			return os.NewSyscallError("setsockopt(SO_RCVBUF)", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrCAN{Ifindex: ifindex}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// Name is the interface name.
func (c *Conn) Name() string { return c.name }

// past is a deadline that has passed: it wakes a blocked read or write.
var past = time.Unix(1, 0)

// watch makes ctx's end interrupt the blocked operation through the
// deadline set by set. The returned function must be called when the
// operation returns; it reports ctx's error if ctx interrupted it.
func watch(ctx context.Context, set func(time.Time) error) func() error {
	if ctx.Done() == nil {
		return func() error { return nil }
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = set(past)
		close(fired)
	})
	return func() error {
		if stop() {
			return nil
		}
		<-fired
		_ = set(time.Time{})
		return ctx.Err()
	}
}

// Read waits for frames and stores up to len(frames) of them, all that
// are queued without waiting again. It returns the number stored. Errors:
// ctx's error, ENETDOWN (the interface went down), ENODEV (it went away),
// os.ErrClosed.
func (c *Conn) Read(ctx context.Context, frames []Frame) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	done := watch(ctx, c.f.SetReadDeadline)
	n := 0
	var opErr error
	err := c.rc.Read(func(fd uintptr) bool {
		for n < len(frames) {
			m, oobn, _, _, err := unix.Recvmsg(int(fd), c.rbuf[:], c.oob[:], 0)
			if err == unix.EAGAIN {
				return n > 0
			}
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				opErr = err
				return true
			}
			if oobn > 0 {
				c.parseOOB(c.oob[:oobn])
			}
			if frames[n].UnmarshalBinary(c.rbuf[:m]) != nil {
				continue // not a frame size: nothing we asked for
			}
			n++
		}
		return true
	})
	if cerr := done(); cerr != nil && n == 0 {
		return 0, cerr
	}
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = opErr
	}
	return 0, c.opError("read", err)
}

// parseOOB takes the drop counter out of a frame's control messages.
func (c *Conn) parseOOB(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4 {
			c.dropped.Store(binary.NativeEndian.Uint32(m.Data))
		}
	}
}

// Dropped is how many frames the kernel dropped on this socket because
// its receive buffer was full, as of the last frame read.
func (c *Conn) Dropped() uint64 { return uint64(c.dropped.Load()) }

func (c *Conn) opError(op string, err error) error {
	if err == nil {
		return nil
	}
	if c.closed.Load() || errors.Is(err, os.ErrClosed) {
		return os.ErrClosed
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("socketcan: %s %s: %w", op, c.name, os.NewSyscallError(op, errno))
	}
	return fmt.Errorf("socketcan: %s %s: %w", op, c.name, err)
}

// Write sends one frame. A full transmit queue (ENOBUFS) is retried with
// a short back-off until ctx ends.
func (c *Conn) Write(ctx context.Context, f *Frame) error {
	if f.FD && !c.fd {
		return fmt.Errorf("socketcan: %s: a CAN FD frame on a socket opened without FD", c.name)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	if c.wbuf, err = f.AppendBinary(c.wbuf[:0]); err != nil {
		return err
	}
	delay := time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done := watch(ctx, c.f.SetWriteDeadline)
		var opErr error
		err := c.rc.Write(func(fd uintptr) bool {
			for {
				_, opErr = unix.Write(int(fd), c.wbuf)
				if opErr != unix.EINTR {
					break
				}
			}
			return opErr != unix.EAGAIN
		})
		if cerr := done(); cerr != nil {
			return cerr
		}
		if err == nil {
			err = opErr
		}
		if err != unix.ENOBUFS {
			return c.opError("write", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// Close closes the socket; a blocked Read returns os.ErrClosed. It may be
// called more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.f.Close()
	})
	return c.closeErr
}
