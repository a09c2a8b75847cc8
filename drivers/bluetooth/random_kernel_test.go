//go:build kerneltest

package bluetooth_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	. "github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
)

// A peripheral with a static random address: scanning (passive and
// active) reports it by that address, as random.
func TestKernelStaticRandomAddress(t *testing.T) {
	idx := bttest.Virt(t, 2)
	static := Addr{0xC3, 0x11, 0x22, 0x33, 0x44, 0x55}
	bttest.StaticAddress(t, idx[1], static)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := &ServerChar{UUID: att.DeviceName, Props: att.PropRead}
	srv := NewServer(&ServerService{UUID: att.UUID16(0x1800), Chars: []*ServerChar{name}})
	srv.Set(ctx, name, []byte("static-peer"))
	p := bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("static-peer").Bytes(), srv)
	if p.Addr == static {
		t.Fatalf("controller identity %v is the static address", p.Addr)
	}
	central, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	if err := central.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	for _, passive := range []bool{true, false} {
		central.Passive, central.Refresh = passive, time.Second
		var f Found
		sctx, scancel := context.WithCancel(ctx)
		err := central.Scan(sctx, func(r Found) {
			if d, _ := adv.Parse(r.Data); d.Name == "static-peer" {
				f = r
				scancel()
			}
		})
		scancel()
		if err != nil || ctx.Err() != nil {
			t.Fatalf("passive %v: scan: %v, %v", passive, err, ctx.Err())
		}
		t.Logf("passive %v: found %v (%v)", passive, f.Addr, f.AddrType)
		if f.Addr != static || f.AddrType != Random {
			t.Fatalf("passive %v: peer reported as %v (%v), want %v (random)", passive, f.Addr, f.AddrType, static)
		}
	}
}

// A central connects to a peripheral whose identity is a static random
// address, reads a characteristic and receives notifications. The HCI
// trace of both controllers is logged when it fails. (Before the ATT
// sockets bound the controller's identity address, the peripheral's
// listener, bound to the public address, never got the link: the trace
// showed the central's Exchange MTU Request arrive at the peripheral's
// controller, no answer, and the peripheral's kernel disconnecting the
// unused link 4 s later with reason 0x13.)
func TestKernelStaticRandomConnect(t *testing.T) {
	mon := bttest.Monitor(t)
	idx := bttest.Virt(t, 2)
	static := Addr{0xC3, 0x11, 0x22, 0x33, 0x44, 0x66}
	bttest.StaticAddress(t, idx[1], static)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fds := openFDs(t)
	defer func() {
		if t.Failed() {
			for _, f := range mon.Trace(idx...) {
				t.Log(f)
			}
		}
	}()
	written := make(chan []byte, 1)
	name := &ServerChar{UUID: att.DeviceName, Props: att.PropRead | att.PropWrite, OnWrite: func(v []byte) { written <- v }}
	th := &ServerChar{UUID: att.MustUUID("226CAA55-6476-4566-7562-66734470666D"), Props: att.PropNotify | att.PropRead}
	srv := NewServer(&ServerService{UUID: att.UUID16(0x1800), Chars: []*ServerChar{name}},
		&ServerService{UUID: att.MustUUID("226C0000-6476-4566-7562-66734470666D"), Chars: []*ServerChar{th}})
	srv.MTU = 64 // long writes above 61 bytes
	srv.Set(ctx, name, []byte("static-peer"))
	p := bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("static-peer").Bytes(), srv)
	if a, typ, err := p.Identity(ctx); err != nil || a != static || typ != Random {
		t.Fatalf("peer identity %v (%v), %v; want %v (random)", a, typ, err, static)
	}
	central, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	if err := central.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if a, typ, err := central.Identity(ctx); err != nil || a != central.Addr || typ != Public {
		t.Fatalf("central identity %v (%v), %v; want %v (public)", a, typ, err, central.Addr)
	}
	ch, err := central.Dial(ctx, static, Random)
	if err != nil {
		t.Fatal(err)
	}
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
	if v, err := c.Read(ctx, c.Find(att.DeviceName).Value); err != nil || string(v) != "static-peer" {
		t.Fatalf("read %q %v", v, err)
	}
	if err := c.Subscribe(ctx, c.Find(th.UUID)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if srv.Set(ctx, th, []byte{byte(i)}) != 1 {
			t.Fatal("peer has no subscriber")
		}
		if v := <-vals; v[0] != byte(i) {
			t.Fatalf("notification %d: % x", i, v)
		}
	}
	// A long write (Prepare Write Requests of 59 bytes, then Execute
	// Write) read back with Read Blob Requests.
	long := bytes.Repeat([]byte("long write "), 40)[:440]
	if err := c.Write(ctx, c.Find(att.DeviceName).Value, long, true); err != nil {
		t.Fatal(err)
	}
	if w := <-written; !bytes.Equal(w, long) {
		t.Fatalf("peer got %d bytes", len(w))
	}
	if v, err := c.Read(ctx, c.Find(att.DeviceName).Value); err != nil || !bytes.Equal(v, long) {
		t.Fatalf("read back %d bytes, %v", len(v), err)
	}
	t.Logf("connected to %v (random), MTU %d, read, 20 notifications, long write of %d bytes", static, c.MTU(), len(long))
	// The peer saw the central by its public address.
	if r := p.Remotes(); len(r) != 1 || r[0] != central.Addr {
		t.Fatalf("peer's centrals %v, want %v", r, central.Addr)
	}
	c.Close()
	if err := <-serveErr; err != nil {
		t.Fatalf("serve after Close: %v", err)
	}
	p.Stop()
	central.Close()
	if n := openFDs(t); n != fds {
		t.Errorf("open fds %d, before %d", n, fds)
	}
}

// A peripheral with LE privacy advertises a resolvable private address
// (random, top bits 01), not its identity: a central without the
// peripheral's IRK connects to the address it currently advertises and
// uses GATT. (Following it across address changes needs the IRK from
// bonding, which this package does not do.)
func TestKernelResolvablePrivateAddress(t *testing.T) {
	idx := bttest.Virt(t, 2)
	bttest.Privacy(t, idx[1], [16]byte{0x3C, 0x12, 0x9A, 0x55, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := &ServerChar{UUID: att.DeviceName, Props: att.PropRead}
	srv := NewServer(&ServerService{UUID: att.UUID16(0x1800), Chars: []*ServerChar{name}})
	srv.Set(ctx, name, []byte("private-peer"))
	p := bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("private-peer").Bytes(), srv)
	central, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	if err := central.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	central.Refresh = time.Second
	var f Found
	sctx, scancel := context.WithCancel(ctx)
	err = central.Scan(sctx, func(r Found) {
		if d, _ := adv.Parse(r.Data); d.Name == "private-peer" {
			f = r
			scancel()
		}
	})
	scancel()
	if err != nil || ctx.Err() != nil {
		t.Fatalf("scan: %v, %v", err, ctx.Err())
	}
	t.Logf("peer identity %v, advertising as %v (%v)", p.Addr, f.Addr, f.AddrType)
	if f.AddrType != Random || f.Addr[0]&0xC0 != 0x40 || f.Addr == p.Addr {
		t.Fatalf("peer reported as %v (%v), want a resolvable private address", f.Addr, f.AddrType)
	}
	ch, err := central.Dial(ctx, f.Addr, f.AddrType)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(ch, nil)
	defer c.Close()
	go c.Serve(ctx)
	if err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Read(ctx, c.Find(att.DeviceName).Value); err != nil || string(v) != "private-peer" {
		t.Fatalf("read %q %v", v, err)
	}
	if r := p.Remotes(); len(r) != 1 || r[0] != central.Addr {
		t.Fatalf("peer's centrals %v, want %v", r, central.Addr)
	}
}
