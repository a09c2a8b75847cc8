//go:build kerneltest

package bluetooth_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	. "github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
)

// These tests run on a real kernel (scripts/kernel-test.sh): btvirt
// emulates two LE controllers behind /dev/vhci and links them, so both the
// central (this package's Client) and the test peripheral (Server) go
// through the kernel's HCI, mgmt and L2CAP code.

func openFDs(t *testing.T) int {
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}

func TestKernelScanConnectGATT(t *testing.T) {
	idx := bttest.Virt(t, 2)
	t.Logf("controllers %v", idx)
	fds := openFDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	written := make(chan []byte, 4)
	name := &ServerChar{UUID: att.DeviceName, Props: att.PropRead | att.PropWrite | att.PropWriteNoResp,
		OnWrite: func(v []byte) { written <- v }}
	th := &ServerChar{UUID: att.MustUUID("226CAA55-6476-4566-7562-66734470666D"), Props: att.PropNotify | att.PropRead}
	srv := NewServer(&ServerService{UUID: att.UUID16(0x1800), Chars: []*ServerChar{name}},
		&ServerService{UUID: att.MustUUID("226C0000-6476-4566-7562-66734470666D"), Chars: []*ServerChar{th}})
	srv.Set(ctx, name, []byte("tbgw-peer"))
	data := new(adv.Builder).Name("tbgw-peer").Manufacturer(0xFFFF, []byte{0x12, 0x34, 0x56}).Bytes()
	p := bttest.NewPeripheral(t, idx[1], data, srv)

	central, err := OpenAdapter(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	if central.Index == p.Index {
		t.Fatalf("central picked the peripheral's controller hci%d", central.Index)
	}
	if err := central.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}

	// Scan: the peer's advertising data arrives through mgmt Device Found.
	// btvirt sends a report when scanning is enabled, and the kernel may
	// drop it if it arrives before the round is marked active: short
	// rounds make the test independent of that race.
	central.Refresh = time.Second
	sctx, scancel := context.WithCancel(ctx)
	found := make(chan Found, 1)
	scanErr := make(chan error, 1)
	start := time.Now()
	go func() {
		scanErr <- central.Scan(sctx, func(f Found) {
			if f.Addr == p.Addr {
				select {
				case found <- f:
				default:
				}
			}
		})
	}()
	var f Found
	select {
	case f = <-found:
	case err := <-scanErr:
		t.Fatalf("scan: %v", err)
	case <-ctx.Done():
		t.Fatal("peer not found")
	}
	scancel()
	if err := <-scanErr; err != nil {
		t.Fatalf("scan: %v", err)
	}
	d, err := adv.Parse(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("found %v (%v) rssi %d after %v (discovery rounds %d, busy %d): name %q manufacturer %+v", f.Addr, f.AddrType, f.RSSI,
		time.Since(start), central.Rounds.Load(), central.Busy.Load(), d.Name, d.Manufacturer)
	if d.Name != "tbgw-peer" || len(d.Manufacturer) != 1 || !bytes.Equal(d.Manufacturer[0].Data, []byte{0x12, 0x34, 0x56}) {
		t.Fatalf("advertising data %+v", d)
	}

	// Connect and use GATT.
	start = time.Now()
	ch, err := central.Dial(ctx, f.Addr, f.AddrType)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connected in %v", time.Since(start))
	vals := make(chan []byte, 16)
	c := NewClient(ch, func(h uint16, v []byte) {
		if h == th.Handle() {
			vals <- v
		}
	})
	serveErr := make(chan error, 1)
	go func() { serveErr <- c.Serve(ctx) }()
	if err := c.ExchangeMTU(ctx, att.MaxMTU); err != nil {
		t.Fatal(err)
	}
	if err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("MTU %d, %d services", c.MTU(), len(c.Services))
	nc := c.Find(att.DeviceName)
	if nc == nil {
		t.Fatal("device name characteristic not discovered")
	}
	if v, err := c.Read(ctx, nc.Value); err != nil || string(v) != "tbgw-peer" {
		t.Fatalf("read %q %v", v, err)
	}
	if err := c.Write(ctx, nc.Value, []byte("renamed"), true); err != nil {
		t.Fatal(err)
	}
	if w := <-written; string(w) != "renamed" {
		t.Fatalf("peer got %q", w)
	}
	if err := c.Write(ctx, nc.Value, []byte("cmd"), false); err != nil {
		t.Fatal(err)
	}
	if w := <-written; string(w) != "cmd" {
		t.Fatalf("peer got %q", w)
	}
	if err := c.Subscribe(ctx, c.Find(th.UUID)); err != nil {
		t.Fatal(err)
	}
	const notifications = 200
	start = time.Now()
	for i := 0; i < notifications; i++ {
		if srv.Set(ctx, th, []byte{byte(i), 0, 22}) != 1 {
			t.Fatal("peer has no subscriber")
		}
		if v := <-vals; v[0] != byte(i) {
			t.Fatalf("notification %d: % x", i, v)
		}
	}
	t.Logf("%d notifications round trip in %v (%.0f/s)", notifications, time.Since(start),
		notifications/time.Since(start).Seconds())

	// Link loss: the peer drops the connection.
	p.Drop(false)
	select {
	case err := <-serveErr:
		if !errors.Is(err, ErrLinkLost) {
			t.Fatalf("serve after link loss: %v", err)
		}
		t.Logf("link loss surfaced: %v", err)
	case <-ctx.Done():
		t.Fatal("link loss not noticed")
	}
	c.Close()

	// Reconnect.
	// The peer advertises again once the link is gone; an attempt that
	// races with that fails (the emulated controller refuses it) and is
	// retried, as the connector does.
	for attempt := 1; ; attempt++ {
		ch, err = central.Dial(ctx, f.Addr, f.AddrType)
		if err == nil {
			break
		}
		if attempt == 10 {
			t.Fatalf("reconnect: %v", err)
		}
		t.Logf("reconnect attempt %d: %v", attempt, err)
		time.Sleep(200 * time.Millisecond)
	}
	c = NewClient(ch, nil)
	go func() { serveErr <- c.Serve(ctx) }()
	if err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Read(ctx, c.Find(att.DeviceName).Value); err != nil || string(v) != "cmd" {
		t.Fatalf("read after reconnect %q %v", v, err)
	}
	c.Close()
	if err := <-serveErr; err != nil {
		t.Fatalf("serve after Close: %v", err)
	}

	// A device that is not there: Dial ends at the context's deadline.
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	defer dcancel()
	start = time.Now()
	if _, err := central.Dial(dctx, Addr{0xC0, 1, 2, 3, 4, 5}, Random); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial absent device: %v", err)
	}
	t.Logf("absent device: dial gave up after %v", time.Since(start))
	central.Close()
	p.Stop()
	cancel()
	if n := openFDs(t); n != fds {
		t.Errorf("open fds %d, before %d", n, fds)
	}
}
