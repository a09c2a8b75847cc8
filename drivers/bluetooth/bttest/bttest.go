// Package bttest provides Bluetooth peers for tests that run on a real
// kernel (scripts/kernel-test.sh): virtual LE controllers made by BlueZ's
// btvirt over /dev/vhci, and a GATT peripheral built on package
// bluetooth's Server that advertises and accepts connections on one of
// them. Both sides of every test go through the kernel's HCI, mgmt and
// L2CAP code; only the radio is emulated (by btvirt, which links its
// controllers to each other).
package bttest

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/bluetooth"
)

// Virt starts btvirt with n LE controllers and returns their indexes,
// sorted. btvirt is stopped when the test ends.
func Virt(t testing.TB, n int) []int {
	t.Helper()
	before, _ := bluetooth.Controllers(context.Background())
	virt := exec.Command("/usr/bin/btvirt", "-L", "-l"+strconv.Itoa(n))
	virt.Stdout, virt.Stderr = os.Stderr, os.Stderr
	if err := virt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		virt.Process.Kill()
		virt.Wait()
		// Wait until the kernel removed the controllers.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			if idx, err := bluetooth.Controllers(ctx); err != nil || len(idx) <= len(before) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		idx, err := bluetooth.Controllers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(idx) >= len(before)+n {
			var out []int
			for _, i := range idx {
				old := false
				for _, b := range before {
					old = old || b == i
				}
				if !old {
					out = append(out, i)
				}
			}
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("btvirt: %d controllers did not appear (have %v)", n, idx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Peripheral is a GATT server advertising on one controller.
type Peripheral struct {
	*bluetooth.Adapter
	Server *bluetooth.Server

	ctx    context.Context
	cancel context.CancelFunc
	ln     *bluetooth.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	live   map[*bluetooth.Channel]bool
	accept bool
}

// NewPeripheral powers controller index on, advertises data and serves
// srv (if not nil) to every central that connects. It is stopped when the
// test ends. The advertising is connectable even without srv: the kernel
// advertises non-connectable data from a random private address, and a
// beacon is expected to keep its address.
func NewPeripheral(t testing.TB, index int, data []byte, srv *bluetooth.Server) *Peripheral {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := bluetooth.OpenAdapter(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	p := &Peripheral{Adapter: a, Server: srv, ctx: ctx, cancel: cancel, live: map[*bluetooth.Channel]bool{}, accept: true}
	t.Cleanup(p.Stop)
	if err := a.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Advertise(ctx, 1, data, nil, true); err != nil {
		t.Fatal(err)
	}
	if srv == nil {
		return p
	}
	if p.ln, err = a.ListenATT(ctx); err != nil {
		t.Fatal(err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			ch, err := p.ln.Accept(ctx)
			if err != nil {
				return
			}
			p.mu.Lock()
			if !p.accept {
				p.mu.Unlock()
				ch.Close()
				continue
			}
			p.live[ch] = true
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				srv.Serve(ctx, ch)
				p.mu.Lock()
				delete(p.live, ch)
				p.mu.Unlock()
			}()
		}
	}()
	return p
}

// Connections is the number of connected centrals.
func (p *Peripheral) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// Remotes returns the addresses of the connected centrals.
func (p *Peripheral) Remotes() []bluetooth.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []bluetooth.Addr
	for c := range p.live {
		out = append(out, c.Remote)
	}
	return out
}

// Drop closes every connection (the link goes away) and, with refuse,
// closes every later one at once until Accept(true).
func (p *Peripheral) Drop(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accept = !refuse
	for c := range p.live {
		c.Close()
	}
}

// Accept lets connections in again after Drop(true).
func (p *Peripheral) Accept() {
	p.mu.Lock()
	p.accept = true
	p.mu.Unlock()
}

// Stop stops advertising and serving. It is idempotent.
func (p *Peripheral) Stop() {
	p.cancel()
	if p.ln != nil {
		p.ln.Close()
	}
	p.Drop(true)
	p.wg.Wait()
	p.Adapter.Close()
}

// StaticAddress gives controller index (powered off, as btvirt's
// controllers are until someone powers them on) the static random
// address addr, which it then advertises and connects with.
func StaticAddress(t testing.TB, index int, addr bluetooth.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := bluetooth.OpenAdapter(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.SetStaticAddress(ctx, addr); err != nil {
		t.Fatal(err)
	}
}

// Privacy turns LE privacy on for controller index (powered off): it
// then advertises with resolvable private addresses made from irk.
func Privacy(t testing.TB, index int, irk [16]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := bluetooth.OpenAdapter(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.SetPrivacy(ctx, irk); err != nil {
		t.Fatal(err)
	}
}
