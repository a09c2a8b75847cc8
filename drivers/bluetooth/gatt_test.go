//go:build linux

package bluetooth

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/att"
	"golang.org/x/sys/unix"
)

// connBearer carries PDUs over a SOCK_SEQPACKET socket pair: the same
// message semantics as an L2CAP channel, without a Bluetooth kernel. The
// GATT logic of both Client and Server runs for real on top of it; the
// kernel Bluetooth path itself is tested in the VM (kernel_test.go).
type connBearer struct{ c net.Conn }

func (b connBearer) ReadPDU(ctx context.Context, p []byte) (int, error) {
	stop := context.AfterFunc(ctx, func() { b.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	n, err := b.c.Read(p)
	if err != nil && ctx.Err() != nil {
		return n, ctx.Err()
	}
	return n, err
}
func (b connBearer) WritePDU(ctx context.Context, p []byte) error { _, err := b.c.Write(p); return err }
func (b connBearer) Close() error                                 { return b.c.Close() }

func seqpacketPair(t *testing.T) (connBearer, connBearer) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conv := func(fd int) connBearer {
		f := os.NewFile(uintptr(fd), "seqpacket")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return connBearer{c}
	}
	return conv(fds[0]), conv(fds[1])
}

var (
	uuidTH   = att.MustUUID("226CAA55-6476-4566-7562-66734470666D")
	uuidName = att.DeviceName
)

func TestClientServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	written := make(chan []byte, 1)
	name := &ServerChar{UUID: uuidName, Props: att.PropRead | att.PropWrite, OnWrite: func(v []byte) { written <- v }}
	th := &ServerChar{UUID: uuidTH, Props: att.PropNotify | att.PropRead}
	ind := &ServerChar{UUID: att.MustUUID("2A19"), Props: att.PropIndicate}
	srv := NewServer(&ServerService{UUID: att.MustUUID("1800"), Chars: []*ServerChar{name}},
		&ServerService{UUID: att.MustUUID("226C0000-6476-4566-7562-66734470666D"), Chars: []*ServerChar{th, ind}})
	long := bytes.Repeat([]byte("0123456789"), 30)
	srv.Set(ctx, name, long)

	a, b := seqpacketPair(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() { defer wg.Done(); srv.Serve(ctx, a) }()
	vals := make(chan [2][]byte, 4)
	c := NewClient(b, func(h uint16, v []byte) { vals <- [2][]byte{{byte(h)}, v} })
	serveErr := make(chan error, 1)
	go func() { defer wg.Done(); serveErr <- c.Serve(ctx) }()
	defer c.Close()

	if err := c.ExchangeMTU(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if c.MTU() != 100 {
		t.Fatalf("mtu %d", c.MTU())
	}
	if err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 2 {
		t.Fatalf("%d services", len(c.Services))
	}
	ch := c.Find(uuidTH)
	if ch == nil || ch.CCCD == 0 || ch.Value != th.Handle() || c.ByHandle(th.Handle()) != ch {
		t.Fatalf("notify characteristic %+v", ch)
	}
	if ic := c.Find(ind.UUID); ic == nil || ic.CCCD == 0 {
		t.Fatalf("indicate characteristic %+v", ic)
	}
	got, err := c.Read(ctx, c.Find(uuidName).Value)
	if err != nil || !bytes.Equal(got, long) {
		t.Fatalf("long read %q %v", got, err)
	}
	if err := c.Write(ctx, c.Find(uuidName).Value, []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	if w := <-written; string(w) != "hello" {
		t.Fatalf("written %q", w)
	}
	if err := c.Write(ctx, c.Find(uuidName).Value, []byte("cmd"), false); err != nil {
		t.Fatal(err)
	}
	if w := <-written; string(w) != "cmd" {
		t.Fatalf("written %q", w)
	}
	// Long writes: 300 bytes at MTU 100 is four Prepare Writes (95 bytes
	// each) and an Execute Write; 512 bytes is the most.
	for _, v := range [][]byte{bytes.Repeat([]byte("abcdefghij"), 30), bytes.Repeat([]byte{0xA5}, att.MaxValue), make([]byte, 98)} {
		before := srv.Writes(name)
		if err := c.Write(ctx, c.Find(uuidName).Value, v, true); err != nil {
			t.Fatal(err)
		}
		if w := <-written; !bytes.Equal(w, v) || srv.Writes(name) != before+1 {
			t.Fatalf("long write of %d bytes: peer has %d bytes, %d writes", len(v), len(w), srv.Writes(name)-before)
		}
		if got, err := c.Read(ctx, c.Find(uuidName).Value); err != nil || !bytes.Equal(got, v) {
			t.Fatalf("read back %d bytes: %d, %v", len(v), len(got), err)
		}
	}
	if err := c.Write(ctx, c.Find(uuidName).Value, make([]byte, 513), true); err == nil {
		t.Fatal("513-byte value written")
	}
	if err := c.Write(ctx, c.Find(uuidName).Value, make([]byte, 98), false); err == nil {
		t.Fatal("a Write Command longer than MTU-3 was sent")
	}
	var e *att.ErrorRsp
	if err := c.Write(ctx, ch.Value, make([]byte, 200), true); !errors.As(err, &e) || e.Code != att.ErrWriteNotPermitted || e.Req != att.OpPrepareWriteReq {
		t.Fatalf("long write of a read-only characteristic: %v", err)
	}
	if _, err := c.Read(ctx, 0x99); !errors.As(err, &e) || e.Code != att.ErrInvalidHandle {
		t.Fatalf("read of a bad handle: %v", err)
	}
	if err := c.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, c.Find(ind.UUID)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Set(ctx, th, []byte{0x37, 0x00, 0x16}); n != 1 {
		t.Fatalf("notified %d", n)
	}
	if v := <-vals; v[0][0] != byte(th.Handle()) || !bytes.Equal(v[1], []byte{0x37, 0, 0x16}) {
		t.Fatalf("notification %v", v)
	}
	srv.Set(ctx, ind, []byte{42})
	if v := <-vals; v[1][0] != 42 {
		t.Fatalf("indication %v", v)
	}
	// The peer goes away: Serve reports a lost link, requests fail fast.
	a.Close()
	if err := <-serveErr; !errors.Is(err, ErrLinkLost) {
		t.Fatalf("serve after peer close: %v", err)
	}
	if _, err := c.Read(ctx, ch.Value); !errors.Is(err, ErrLinkLost) {
		t.Fatalf("read after link loss: %v", err)
	}
}

// A malformed response fails the request with an error, not a panic, and
// a peer that never answers makes the request end at ctx and the
// connection close.
func TestClientBadPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := seqpacketPair(t)
	defer a.Close()
	c := NewClient(b, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Serve(ctx) }()
	defer wg.Wait()
	defer c.Close()
	cancelled := make(chan bool, 1)
	go func() {
		buf := make([]byte, 600)
		for i := 0; ; i++ {
			if _, err := a.ReadPDU(ctx, buf); err != nil {
				return
			}
			switch i {
			case 0:
				a.WritePDU(ctx, []byte{0x11, 0x03, 0x01}) // Read By Group Type Response, bad length
			case 1:
				a.WritePDU(ctx, []byte{0x0b, 1, 2}) // wrong response to an MTU request
			case 2:
				a.WritePDU(ctx, []byte{0x17, 3, 0, 0, 0, 'x'}) // Prepare Write Response with another value
			case 3:
				cancelled <- buf[0] == byte(att.OpExecuteWriteReq) && buf[1] == att.ExecuteCancel
				a.WritePDU(ctx, []byte{0x19})
			}
		}
	}()
	if err := c.Discover(ctx); err == nil {
		t.Fatal("malformed discovery response accepted")
	}
	if err := c.ExchangeMTU(ctx, 100); err == nil {
		t.Fatal("wrong response opcode accepted")
	}
	if err := c.Write(ctx, 3, make([]byte, 40), true); err == nil {
		t.Fatal("long write accepted with a Prepare Write Response that does not echo the request")
	} else {
		t.Log(err)
	}
	if !<-cancelled {
		t.Fatal("the long write was not cancelled with an Execute Write Request (flags 0)")
	}
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := c.Read(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered read: %v", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("connection not closed after a request timed out")
	}
}
