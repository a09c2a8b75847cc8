//go:build linux

package quietsock

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the server's end of a TCP
// connection on 127.0.0.1.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	w, ok := Wrap(c).(*Conn)
	if !ok {
		t.Fatalf("Wrap of a TCP connection gave %T", Wrap(c))
	}
	t.Cleanup(func() { w.Close(); srv.Close() })
	return w, srv
}

func TestWrapLeavesOtherConnections(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("a pipe was wrapped")
	}
}

// Both directions carry bytes unchanged, also more than the socket
// buffers hold (writes that meet a full buffer wait for room).
func TestReadWriteLarge(t *testing.T) {
	c, srv := pair(t)
	data := make([]byte, 8<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	errc := make(chan error, 1)
	go func() {
		n, err := c.Write(data)
		if err == nil && n != len(data) {
			err = io.ErrShortWrite
		}
		errc <- err
	}()
	h := sha256.New()
	if _, err := io.CopyN(h, srv, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the bytes written differ")
	}
	go func() {
		_, err := srv.Write(data)
		errc <- err
	}()
	h.Reset()
	if _, err := io.CopyN(h, c, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the bytes read differ")
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d %v", n, err)
	}
}

// A read waits for data, and the peer closing is io.EOF.
func TestReadWaitsThenEOF(t *testing.T) {
	c, srv := pair(t)
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, _ := c.Read(b)
		got <- string(b[:n])
	}()
	if _, err := srv.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "hello" {
		t.Fatalf("read %q", s)
	}
	srv.Close()
	if n, err := c.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("after the peer closed: %d %v", n, err)
	}
}

// Deadlines apply as on net.TCPConn: a timeout error.
func TestDeadline(t *testing.T) {
	c, _ := pair(t)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 4))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("not a read OpError: %#v", err)
	}
	// Writing into a peer that does not read fills the buffers, then
	// times out (on a busy host the deadline may pass before the first
	// write: n is then 0).
	if err := c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Write(make([]byte, 64<<20))
	if !errors.As(err, &ne) || !ne.Timeout() || n < 0 || n >= 64<<20 {
		t.Fatalf("write past the deadline: %d %v", n, err)
	}
}

// Close ends a read that waits, with net.ErrClosed; writes after it fail.
func TestCloseEndsRead(t *testing.T) {
	c, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 4))
		errc <- err
	}()
	// The read is parked on the poller before Close or not: either way it
	// must end with ErrClosed.
	runtime.Gosched()
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the read")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// A peer that resets the connection is an error naming the system call.
func TestResetIsError(t *testing.T) {
	c, srv := pair(t)
	srv.(*net.TCPConn).SetLinger(0)
	srv.Close()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write(make([]byte, 1<<16))
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a reset connection: %v", err)
	}
}

func TestSetsockoptInt(t *testing.T) {
	c, _ := pair(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := SetsockoptInt(rc, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 4096); err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
	if gerr != nil || v != 4096 {
		t.Fatalf("SO_RCVLOWAT %d %v", v, gerr)
	}
	if err := SetsockoptInt(rc, syscall.SOL_SOCKET, 9999, 1); !errors.Is(err, syscall.ENOPROTOOPT) {
		t.Fatalf("unknown option: %v", err)
	}
	c.Close()
	if err := SetsockoptInt(rc, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 1); err == nil {
		t.Fatal("a closed connection's option was set")
	}
}

// A Read or Write that finds data or room allocates nothing (it is on
// every round of the gateway's hot path).
func TestNoAllocations(t *testing.T) {
	c, srv := pair(t)
	out, in := make([]byte, 64), make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, in); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Write(out); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write and read", allocs)
	}
}

// A read takes what is there even below a raised receive low-water mark,
// without running OnEmpty; a read that finds nothing runs it before it
// waits, so a hook that lowers the mark there lets a single byte wake the
// read.
func TestOnEmpty(t *testing.T) {
	c, srv := pair(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	mark := func() int {
		var v int
		var gerr error
		if err := rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) }); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		return v
	}
	if err := SetsockoptInt(rc, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 16384); err != nil {
		t.Fatal(err)
	}
	hooked := make(chan struct{}, 16)
	c.OnEmpty(func() {
		if err := SetsockoptInt(rc, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 1); err != nil {
			t.Error(err)
		}
		hooked <- struct{}{}
	})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not a timing assertion
	if _, err := srv.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	// Wait until the byte is queued on c (SIOCINQ), bounded.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var queued int
		var gerr error
		if err := rc.Control(func(fd uintptr) { queued, gerr = unixIoctlInq(int(fd)) }); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		if queued > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the byte never arrived")
		}
		runtime.Gosched()
	}
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "a" {
		t.Fatalf("read %q %v below the raised mark", buf[:n], err)
	}
	if len(hooked) != 0 || mark() != 16384 {
		t.Fatalf("a read that found data ran OnEmpty (%d) or changed the mark (%d)", len(hooked), mark())
	}
	got := make(chan string, 1)
	go func() {
		n, err := c.Read(buf)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf[:n])
	}()
	select {
	case <-hooked: // the read found nothing and lowered the mark
	case s := <-got:
		t.Fatalf("the read returned %q without running OnEmpty", s)
	}
	if _, err := srv.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "b" {
		t.Fatalf("read after OnEmpty: %q", s)
	}
}
