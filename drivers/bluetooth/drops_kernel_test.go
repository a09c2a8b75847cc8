//go:build kerneltest

package bluetooth_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	. "github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
)

// Notifications the kernel drops because the ATT socket's receive buffer
// is full are counted by Channel.Drops: with a reader stalled during a
// burst and a small buffer, every notification of the burst is either
// delivered or counted, none vanishes.
func TestKernelNotificationDrops(t *testing.T) {
	idx := bttest.Virt(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	th := &ServerChar{UUID: att.MustUUID("226CAA55-6476-4566-7562-66734470666D"), Props: att.PropNotify}
	srv := NewServer(&ServerService{UUID: att.MustUUID("226C0000-6476-4566-7562-66734470666D"), Chars: []*ServerChar{th}})
	p := bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("burst").Bytes(), srv)
	central, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	if err := central.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	ch, err := central.Dial(ctx, p.Addr, Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.SetReadBuffer(2048); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var opened sync.Once
	open := func() { opened.Do(func() { close(gate) }) }
	defer open()
	var received atomic.Int64
	c := NewClient(ch, func(h uint16, v []byte) {
		<-gate // the reader stalls at the first notification until the burst is sent
		received.Add(1)
	})
	defer c.Close()
	go c.Serve(ctx)
	if err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, c.Find(th.UUID)); err != nil {
		t.Fatal(err)
	}
	const burst = 200
	for i := range burst {
		if srv.Set(ctx, th, []byte{byte(i), byte(i >> 8)}) != 1 {
			t.Fatalf("notification %d not sent", i)
		}
	}
	open()
	for {
		drops, err := ch.Drops()
		if err != nil {
			t.Fatal(err)
		}
		got := received.Load()
		if got+int64(drops) == burst {
			t.Logf("burst of %d with the reader stalled: %d delivered, %d dropped by the kernel and counted", burst, got, drops)
			if drops == 0 {
				t.Fatal("nothing dropped: the test did not fill the receive buffer")
			}
			break
		}
		if got+int64(drops) > burst || ctx.Err() != nil {
			t.Fatalf("%d delivered + %d dropped, want %d", got, drops, burst)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
