//go:build kerneltest

package bluetooth_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	. "github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
)

// scanUntil scans with a until ok accepts a report of addr, and returns
// every report of addr seen.
func scanUntil(t *testing.T, ctx context.Context, a *Adapter, addr Addr, ok func(adv.Data) bool) []adv.Data {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seen []adv.Data
	errc := make(chan error, 1)
	go func() {
		errc <- a.Scan(sctx, func(f Found) {
			if f.Addr != addr {
				return
			}
			d, err := adv.Parse(f.Data)
			if err != nil {
				t.Errorf("advertising data % x: %v", f.Data, err)
				return
			}
			seen = append(seen, d)
			if ok(d) {
				cancel()
			}
		})
	}()
	if err := <-errc; err != nil {
		t.Fatalf("scan: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("no matching report of %v (%d reports)", addr, len(seen))
	}
	return seen
}

func manufacturer(d adv.Data, company uint16) []byte {
	for _, m := range d.Manufacturer {
		if m.Company == company {
			return m.Data
		}
	}
	return nil
}

// Passive scanning sends no scan requests: the controller is only ever
// told to scan passively, receives no scan response, and the reports carry
// the advertising data without the scan response data, which active
// scanning adds.
func TestKernelPassiveScan(t *testing.T) {
	idx := bttest.Virt(t, 2)
	mon := bttest.Monitor(t)
	fds := openFDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	peer, err := OpenAdapter(ctx, idx[1])
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := peer.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	data := new(adv.Builder).Name("adv-peer").Manufacturer(0xFFFF, []byte{1, 2}).Bytes()
	rsp := new(adv.Builder).Manufacturer(0x0059, []byte{0xAA, 0xBB}).Bytes()
	if err := peer.Advertise(ctx, 1, data, rsp, true); err != nil {
		t.Fatal(err)
	}
	central, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	if err := central.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	c := int(central.Index)

	central.Passive = true
	start := time.Now()
	seen := scanUntil(t, ctx, central, peer.Addr, func(d adv.Data) bool {
		return bytes.Equal(manufacturer(d, 0xFFFF), []byte{1, 2})
	})
	t.Logf("passive: %d reports of the peer after %v, monitors registered %d", len(seen), time.Since(start), central.Monitors.Load())
	for _, d := range seen {
		if manufacturer(d, 0x0059) != nil {
			t.Fatalf("passive scan got scan response data: %+v", d)
		}
	}
	params := mon.Commands(c, bttest.OpLESetScanParams, bttest.OpLESetExtScanParams)
	if len(params) == 0 {
		t.Fatal("no scan parameters sent to the central's controller")
	}
	for _, p := range params {
		if typ, _ := bttest.ScanType(p); typ != 0 {
			t.Fatalf("passive mode: scan parameters %04x % x (type %d)", p.Opcode, p.Params, typ)
		}
	}
	reports, rsps := mon.WaitReports(c, 1, 5*time.Second)
	t.Logf("passive: controller received %d advertising reports, %d scan responses; %d scan parameter commands, all passive", reports, rsps, len(params))
	if reports == 0 || rsps != 0 {
		t.Fatalf("passive mode: %d reports, %d scan responses", reports, rsps)
	}

	// Active: the controller scans actively and the scan response arrives.
	central.Passive, central.Refresh = false, time.Second
	n0 := len(params)
	seen = scanUntil(t, ctx, central, peer.Addr, func(d adv.Data) bool {
		return bytes.Equal(manufacturer(d, 0x0059), []byte{0xAA, 0xBB})
	})
	active := false
	for _, p := range mon.Commands(c, bttest.OpLESetScanParams, bttest.OpLESetExtScanParams)[n0:] {
		typ, _ := bttest.ScanType(p)
		active = active || typ == 1
	}
	reports, rsps = mon.Reports(c)
	t.Logf("active: %d reports of the peer; controller received %d reports, %d scan responses", len(seen), reports, rsps)
	if !active || rsps == 0 {
		t.Fatalf("active mode: active scan parameters sent %v, scan responses %d", active, rsps)
	}
	central.Close()
	peer.Close()
	cancel()
	if n := openFDs(t); n != fds {
		t.Errorf("open fds %d, before %d", n, fds)
	}
}

// Window and Period: scanning runs for Window out of every Period, in
// both modes; between windows the controller is not scanning.
func TestKernelScanWindow(t *testing.T) {
	idx := bttest.Virt(t, 1)
	mon := bttest.Monitor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	const window, period = 500 * time.Millisecond, 2 * time.Second
	a.Window, a.Period = window, period
	for _, passive := range []bool{false, true} {
		a.Passive = passive
		n0 := len(mon.Commands(int(a.Index), bttest.OpLESetScanEnable, bttest.OpLESetExtScanEnable))
		sctx, scancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- a.Scan(sctx, func(Found) {}) }()
		// Three windows: enable, disable, enable, disable, enable.
		var en []bttest.HCICommand
		for ctx.Err() == nil {
			en = mon.Commands(int(a.Index), bttest.OpLESetScanEnable, bttest.OpLESetExtScanEnable)[n0:]
			for len(en) > 0 && !bttest.ScanEnable(en[0]) { // the previous mode's end
				en = en[1:]
			}
			if len(en) >= 5 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		scancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("passive %v: scan enable commands %d", passive, len(en))
		}
		// Scanning alternates on and off: each window ends before the next
		// begins, and windows start a period apart (the margin covers
		// the kernel's start latency, which varies under emulation).
		for i, e := range en[:5] {
			if ScanEnable := bttest.ScanEnable(e); ScanEnable != (i%2 == 0) {
				t.Fatalf("passive %v: command %d enable=%v", passive, i, ScanEnable)
			}
		}
		for i := 2; i < 5; i += 2 {
			gap := en[i].At.Sub(en[i-2].At)
			on := en[i-1].At.Sub(en[i-2].At)
			t.Logf("passive %v: window %d: scanning %v, next window after %v", passive, i/2, on.Round(time.Millisecond), gap.Round(time.Millisecond))
			if gap < period/2 || on >= gap {
				t.Errorf("passive %v: scanned %v, windows %v apart (window %v, period %v)", passive, on, gap, window, period)
			}
		}
	}
}

// A passive scan stopped at any moment, also while its advertisement
// monitor is being added, leaves no monitor registered: a leaked one
// kept the controller scanning passively and delayed the reports of a
// later active discovery by seconds.
func TestKernelPassiveScanLeavesNoMonitor(t *testing.T) {
	idx := bttest.Virt(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := OpenAdapter(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	a.Passive = true
	for i := range 40 {
		sctx, scancel := context.WithTimeout(ctx, time.Duration(i%20)*250*time.Microsecond)
		err := a.Scan(sctx, func(Found) {})
		scancel()
		if err != nil && ctx.Err() == nil {
			t.Logf("scan %d: %v", i, err)
		}
		h, err := a.AdvMonitors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 0 {
			t.Fatalf("scan %d, stopped after %v: monitors %v left registered", i, time.Duration(i%20)*250*time.Microsecond, h)
		}
	}
}
