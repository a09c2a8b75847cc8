package mqtt

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tbgw/tbgw/drivers/kit/quietsock"
)

func getsockoptInt(fd, level, opt int) (int, error) { return syscall.GetsockoptInt(fd, level, opt) }

// waitQueued waits (bounded) until n bytes are queued for reading on c
// (SIOCINQ).
func waitQueued(t *testing.T, c net.Conn, n int) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var q int
		var qerr error
		if err := rc.Control(func(fd uintptr) { q, qerr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || qerr != nil {
			t.Fatal(err, qerr)
		}
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes queued, want %d", q, n)
		}
		runtime.Gosched()
	}
}

// On a quiet socket (quietsock) the coalescer leaves the raised mark up
// after its window when data came: the read takes it anyway, and at a
// steady rate the mark is set once, not twice a window. A read that finds
// nothing lowers it before waiting, so a single late byte still wakes it.
func TestCoalescerKeepsMarkWhileDataFlows(t *testing.T) {
	raw, peer := tcpPair(t)
	c := quietsock.Wrap(raw)
	r := newCoalescer(c, 20*time.Millisecond, nil)
	if !r.hooked {
		t.Fatal("the coalescer of a quiet TCP socket does not lower its mark on an empty read")
	}
	buf := make([]byte, readBuffer)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not a timing assertion
	read := func() string {
		t.Helper()
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if _, err := peer.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "a" {
		t.Fatalf("first read %q", got)
	}
	if _, err := peer.Write([]byte("bc")); err != nil {
		t.Fatal(err)
	}
	waitQueued(t, c, 2) // the window's read finds them whatever the machine's load
	got := read()
	for len(got) < 2 {
		got += read()
	}
	if got != "bc" {
		t.Fatalf("window read %q, want bc", got)
	}
	if n, _ := rcvLowat(t, c); n != readBuffer/2 || !r.high {
		t.Fatalf("SO_RCVLOWAT %d (high %v) after a window that brought data, want %d left up", n, r.high, readBuffer/2)
	}
	late := make(chan string, 1)
	go func() {
		n, err := r.Read(buf)
		if err != nil {
			late <- err.Error()
			return
		}
		late <- string(buf[:n])
	}()
	// Wait (bounded) until the read has found nothing and lowered the mark.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if n, _ := rcvLowat(t, c); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mark was never lowered for the waiting read")
		}
		runtime.Gosched()
	}
	if _, err := peer.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if got := <-late; got != "d" {
		t.Fatalf("late read %q", got)
	}
}
