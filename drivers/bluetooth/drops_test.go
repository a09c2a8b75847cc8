//go:build linux

package bluetooth

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Channel.Drops reads the kernel's per-socket drop counter, which every
// datagram socket that queues through the socket core keeps: checked
// here on a UDP socket (the host kernel has no Bluetooth), whose receive
// buffer is made too small for a burst. Every datagram is either received
// or counted.
func TestChannelDrops(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	s, err := newSockFD(fd, "udp")
	if err != nil {
		t.Fatal(err)
	}
	ch := &Channel{s: s}
	defer ch.Close()
	if err := ch.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if n, err := ch.Drops(); err != nil || n != 0 {
		t.Fatalf("drops before the burst: %d, %v", n, err)
	}
	tx, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const burst = 100
	for range burst {
		if _, err := tx.Write(make([]byte, 500)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	received := 0
	buf := make([]byte, 600)
	for {
		drops, err := ch.Drops()
		if err != nil {
			t.Fatal(err)
		}
		if received+int(drops) == burst {
			t.Logf("%d received, %d dropped by the kernel", received, drops)
			if drops == 0 {
				t.Fatal("a 4 KiB buffer held the whole burst: nothing was dropped")
			}
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err = ch.ReadPDU(rctx, buf)
		rcancel()
		if err == nil {
			received++
		} else if ctx.Err() != nil {
			t.Fatalf("%d received, %d dropped, %d of %d unaccounted", received, drops, burst-received-int(drops), burst)
		}
	}
}
