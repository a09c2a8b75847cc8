package mqtt

import (
	"bytes"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// The read counter finds every PUBLISH packet in the byte stream however
// the reads cut it, and counts a packet only once it is read completely.
func TestFramesCountPublishes(t *testing.T) {
	var stream bytes.Buffer
	want, lastEnd := 0, 0
	for i, size := range []int{0, 1, 100, 127, 128, 16383, 16384, 70000} {
		p := packets.NewControlPacket(packets.PUBLISH)
		pub := p.Content.(*packets.Publish)
		pub.Topic, pub.QoS, pub.PacketID, pub.Payload = "sensor/a/data", 1, uint16(i+1), bytes.Repeat([]byte{'x'}, size)
		if _, err := p.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
		want++
		lastEnd = stream.Len()
		if _, err := packets.NewControlPacket(packets.PINGRESP).WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
		pa := packets.NewControlPacket(packets.PUBACK)
		pa.Content.(*packets.Puback).PacketID = uint16(i + 1)
		if _, err := pa.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
	}
	all := stream.Bytes()
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(all)} {
		rs := &readStats{}
		f := frames{rs: rs}
		for p := all; len(p) > 0; {
			n := min(chunk, len(p))
			f.feed(p[:n], true)
			p = p[n:]
		}
		if got := rs.pubs.Load(); got != uint64(want) {
			t.Errorf("reads of %d bytes: %d PUBLISH packets counted, want %d", chunk, got, want)
		}
	}
	// The last PUBLISH one byte short: not counted yet.
	rs := &readStats{}
	f := frames{rs: rs}
	f.feed(all[:lastEnd-1], true)
	if got := rs.pubs.Load(); got != uint64(want-1) {
		t.Errorf("counted %d, want %d", got, want-1)
	}
}

// On a socket that cannot lower the mark itself when a read finds it
// empty (not a quietsock.Conn: see TestCoalescerKeepsMarkWhileDataFlows
// for those), the coalescing reader raises the low-water mark while it
// waits out its window and lowers it before reading: a small message that
// arrives after the window still wakes the read (with the mark left high
// it would wait for half a buffer), and what arrived during the window is
// read together.
func TestCoalescerLowWaterSmallMessages(t *testing.T) {
	c, peer := tcpPair(t)
	if runtime.GOOS == "linux" && lowWater(c) == nil {
		t.Fatal("no low-water control on a TCP connection")
	}
	r := &coalescer{c: c, window: 20 * time.Millisecond, lowat: lowWater(c)}
	buf := make([]byte, readBuffer)
	read := func() []byte {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not a timing assertion
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	if _, err := peer.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if got := string(read()); got != "a" {
		t.Fatalf("first read %q", got)
	}
	// Written during the window: read together after it.
	if _, err := peer.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	got := string(read())
	for got != "bc" && len(got) < 2 {
		got += string(read())
	}
	if got != "bc" {
		t.Fatalf("window read %q, want bc", got)
	}
	// Whenever a read returns the mark is low again, so that the next
	// read, if it finds nothing, is woken by a single byte.
	if n, ok := rcvLowat(t, c); ok && n != 1 {
		t.Fatalf("SO_RCVLOWAT %d after a read, want 1", n)
	}
	go func() { _, _ = peer.Write([]byte("d")) }()
	if got := string(read()); got != "d" {
		t.Fatalf("late read %q", got)
	}
	if n, ok := rcvLowat(t, c); ok && n != 1 {
		t.Fatalf("SO_RCVLOWAT %d after a read, want 1", n)
	}
}

// tcpPair is a TCP connection on 127.0.0.1: the client's end and the
// server's, both closed when the test ends.
func tcpPair(t *testing.T) (c, peer net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { peer.Close() })
	return c, peer
}

// rcvLowat reads the connection's SO_RCVLOWAT (ok false where that is not
// Linux).
func rcvLowat(t *testing.T, c net.Conn) (n int, ok bool) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return 0, false
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var gerr error
	if err := rc.Control(func(fd uintptr) { n, gerr = getsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return n, true
}

// A read after one that completed a reply of the broker's does not wait
// out the read window: a new session subscribes filter by filter, each
// SUBSCRIBE waiting for its SUBACK, and with a window per SUBACK a
// configuration with many mappings took a window per filter to be
// subscribed (messages published meanwhile to a filter not yet subscribed
// never reached the gateway). After a small read of messages it still
// waits.
func TestCoalescerNoWindowAfterReply(t *testing.T) {
	var pub, suback bytes.Buffer
	p := packets.NewControlPacket(packets.PUBLISH)
	p.Content.(*packets.Publish).Topic, p.Content.(*packets.Publish).Payload = "a", []byte("x")
	if _, err := p.WriteTo(&pub); err != nil {
		t.Fatal(err)
	}
	sa := packets.NewControlPacket(packets.SUBACK)
	sa.Content.(*packets.Suback).PacketID, sa.Content.(*packets.Suback).Reasons = 1, []byte{1}
	if _, err := sa.WriteTo(&suback); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		first []byte
		waits bool
	}{{suback.Bytes(), false}, {pub.Bytes(), true}} {
		c := &coalescer{window: time.Hour}
		c.frames.feed(tc.first, true)
		c.small = true
		c.last = time.Now()
		if waits := c.waits(); waits != tc.waits {
			t.Errorf("after % x: waits %v, want %v", tc.first, waits, tc.waits)
		}
	}
	// And through Read: after a SUBACK the next read returns what is
	// there without the hour's window.
	data := append(append([]byte{}, suback.Bytes()...), suback.Bytes()...)
	c := &coalescer{c: &chunkConn{r: bytes.NewReader(data), chunk: len(suback.Bytes())}, window: time.Hour}
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for range 2 {
			if _, err := c.Read(buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the read after a SUBACK waited for the read window")
	}
}
