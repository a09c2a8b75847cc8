package bluetooth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// sock is a non-blocking AF_BLUETOOTH socket registered with Go's
// network poller: reads and writes park the goroutine, not a thread, and
// honour a context through deadlines.
type sock struct {
	f *os.File
}

// newSock creates a socket and runs setup (bind, connect, ...) on the raw
// fd. On any error the fd is closed.
func newSock(name string, typ, proto int, setup func(fd int) error) (*sock, error) {
	fd, err := unix.Socket(unix.AF_BLUETOOTH, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("socket(AF_BLUETOOTH): %w", err)
	}
	if setup != nil {
		if err := setup(fd); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return newSockFD(fd, name)
}

// newSockFD wraps a non-blocking fd; it owns fd from now on.
func newSockFD(fd int, name string) (*sock, error) {
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: bad fd", name)
	}
	return &sock{f: f}, nil
}

func (s *sock) Close() error { return s.f.Close() }

// guard makes ctx's end interrupt the pending operation by moving the
// socket's deadline into the past. The returned func must be called when
// the operation is over.
func (s *sock) guard(ctx context.Context, set func(time.Time) error) func() {
	_ = set(time.Time{})
	if ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() { _ = set(time.Unix(1, 0)) })
	return func() { stop() }
}

func ctxErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (s *sock) read(ctx context.Context, b []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	defer s.guard(ctx, s.f.SetReadDeadline)()
	n, err := s.f.Read(b)
	return n, ctxErr(ctx, err)
}

func (s *sock) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.guard(ctx, s.f.SetWriteDeadline)()
	n, err := s.f.Write(b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("short write %d of %d bytes", n, len(b))
	}
	return ctxErr(ctx, err)
}

// waitConnected waits for a non-blocking connect to finish.
func (s *sock) waitConnected(ctx context.Context) error {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return err
	}
	defer s.guard(ctx, s.f.SetWriteDeadline)()
	var soErr error
	polled := false
	err = rc.Write(func(fd uintptr) bool {
		if !polled {
			polled = true
			return false // wait for writability (connected) or an error
		}
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			soErr = err
		} else if v != 0 {
			soErr = unix.Errno(v)
		}
		return true
	})
	if err != nil {
		return ctxErr(ctx, err)
	}
	return soErr
}

// mgmtSock opens a management socket (HCI control channel). It needs
// CAP_NET_ADMIN for commands; events reach every management socket.
func mgmtSock() (*sock, error) {
	return newSock("mgmt", unix.SOCK_RAW, unix.BTPROTO_HCI, func(fd int) error {
		if err := unix.Bind(fd, &unix.SockaddrHCI{Dev: noIndex, Channel: unix.HCI_CHANNEL_CONTROL}); err != nil {
			return fmt.Errorf("bind mgmt control channel: %w", err)
		}
		return nil
	})
}
