package quietsock

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn is a TCP connection whose Read and Write are raw system calls.
// Everything else (deadlines, Close, addresses, SyscallConn) is the
// TCPConn's. A Read or Write allocates nothing: the functions handed to
// the RawConn are bound once, and each direction keeps the state of its
// call under its own lock (calls in one direction are serialised anyway).
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu     sync.Mutex
	r       call
	readFn  func(fd uintptr) bool
	onEmpty func() // OnEmpty

	wmu     sync.Mutex
	w       call
	writeFn func(fd uintptr) bool
}

// call is one Read's or Write's buffer, bytes done and error number.
type call struct {
	p     []byte
	n     int
	errno syscall.Errno
}

// Wrap returns c with quiet reads and writes when it is a TCP connection,
// otherwise c itself.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	q := &Conn{TCPConn: tc, rc: rc}
	q.readFn, q.writeFn = q.readOnce, q.writeAll
	return q
}

// Read reads like net.TCPConn.Read. When nothing is there the goroutine
// waits on the network poller (RawConn.Read), which honours the read
// deadline and Close.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.r = call{p: p}
	err := c.rc.Read(c.readFn)
	n, errno := c.r.n, c.r.errno
	c.r.p = nil
	c.rmu.Unlock()
	if err == nil && errno != 0 {
		err = os.NewSyscallError("read", errno)
	}
	if err != nil {
		return 0, c.opError("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// OnEmpty sets f to run when a Read finds the socket empty, in the reading
// goroutine, before it waits on the poller (nil: nothing). Set it before
// the first Read. A reader that raised the socket's receive low-water mark
// (SO_RCVLOWAT) lowers it there: a read on the non-blocking socket takes
// whatever is there, below the mark too, so the mark matters only to a
// read that waits; lowering it signals readability at once if a byte came
// meanwhile, so nothing is missed.
func (c *Conn) OnEmpty(f func()) { c.onEmpty = f }

// readOnce reads into c.r.p; false: nothing there, wait for the poller.
func (c *Conn) readOnce(fd uintptr) bool {
	p := c.r.p
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.onEmpty != nil {
				c.onEmpty()
			}
			return false
		}
		c.r.n, c.r.errno = int(r), e
		return true
	}
}

// Write writes like net.TCPConn.Write: all of p or an error. A full send
// buffer makes the goroutine wait on the network poller for room.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.w = call{p: p}
	err := c.rc.Write(c.writeFn)
	n, errno := c.w.n, c.w.errno
	c.w.p = nil
	c.wmu.Unlock()
	if err == nil && errno != 0 {
		err = os.NewSyscallError("write", errno)
	}
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

// writeAll writes what is left of c.w.p; false: the send buffer is full,
// wait for the poller.
func (c *Conn) writeAll(fd uintptr) bool {
	p := c.w.p
	for c.w.n < len(p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[c.w.n])), uintptr(len(p)-c.w.n))
		switch e {
		case 0:
			c.w.n += int(r)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.w.errno = e
		return true
	}
	return true
}

func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// SetsockoptInt sets an integer option of the socket behind rc (from
// SyscallConn, obtained once per connection) without waking the runtime's
// monitor (it never blocks).
func SetsockoptInt(rc syscall.RawConn, level, opt, value int) error {
	v := int32(value)
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.RawSyscall6(unix.SYS_SETSOCKOPT, fd, uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
		if errno == syscall.ENOSYS {
			// 32-bit x86 before Linux 4.3 has only socketcall.
			errno = 0
			if err := unix.SetsockoptInt(int(fd), level, opt, value); err != nil {
				errno, _ = err.(syscall.Errno)
			}
		}
	}); err != nil {
		return err
	}
	if errno != 0 {
		return os.NewSyscallError("setsockopt", errno)
	}
	return nil
}
