package mqtt

import (
	"crypto/tls"
	"net"
	"syscall"

	"github.com/tbgw/tbgw/drivers/kit/quietsock"
)

// lowWater sets the socket's receive low-water mark (SO_RCVLOWAT) of the
// TCP connection under c. Linux wakes a poller for every segment that
// arrives; a reader that sleeps out its read window does not want those
// wake-ups (at 1000 messages/s they were about 900 a second of a thread
// waking, finding nothing runnable and sleeping again). With the mark
// raised, the kernel signals readability only once that many bytes wait;
// lowering it signals at once if data is there, so nothing is missed.
// Errors are ignored: it only saves wake-ups.
func lowWater(c net.Conn) func(n int) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func(n int) {
		_ = quietsock.SetsockoptInt(rc, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}
}

// onEmpty has f run when a read of the socket under c finds nothing, before
// it waits (quietsock.Conn.OnEmpty); false when c is not such a socket.
func onEmpty(c net.Conn, f func()) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	qc, ok := c.(*quietsock.Conn)
	if !ok {
		return false
	}
	qc.OnEmpty(f)
	return true
}
