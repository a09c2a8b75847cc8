//go:build kerneltest

package ble

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// logBuf keeps what the connector logs, and copies it to the test log.
type logBuf struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// passiveScanMode, scannerTimeout/scannerPollPeriod and scanner.deviceName
// through the connector: a beacon with its name and manufacturer data in
// the advertisement and service data in the scan response, and a second
// advertiser with another name. Passive: the controller is only told to
// scan passively, receives no scan response, and the scan response's key
// never arrives; active: it does. Scanning runs in windows of
// scannerTimeout every scannerPollPeriod. showMap lists only the
// advertisers named scanner.deviceName. The map is logged once,
// scanner.timeout after the start: 15 s spans six windows. In active mode
// right after the passive connector stopped on the same controller, the
// first report has been seen to reach the connector only 2.5 s and once
// 12.5 s after the start (the controller received scan responses in every
// window meanwhile); the cause is not known yet.
func TestKernelScanModes(t *testing.T) {
	idx := bttest.Virt(t, 3)
	mon := bttest.Monitor(t)
	beacon := bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("beacon-7").
		Manufacturer(0x0059, []byte{0x09, 0xC4}).Bytes(), nil)
	if err := beacon.StopAdvertising(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if err := beacon.Advertise(t.Context(), 1, new(adv.Builder).Name("beacon-7").Manufacturer(0x0059, []byte{0x09, 0xC4}).Bytes(),
		new(adv.Builder).ServiceData(att.UUID16(0x181A), []byte{0x02, 0x01}).Bytes(), true); err != nil {
		t.Fatal(err)
	}
	other := bttest.NewPeripheral(t, idx[2], new(adv.Builder).Name("other").Bytes(), nil)
	central := idx[0]

	for _, passive := range []bool{true, false} {
		t.Run(fmt.Sprintf("passive=%v", passive), func(t *testing.T) {
			cfg := fmt.Sprintf(`{"name":"BLE","passiveScanMode":%v,"adapter":"hci%d","scannerTimeout":1000,"scannerPollPeriod":2500,
			  "showMap":true,"scanner":{"timeout":15000,"deviceName":"beacon-7"},"devices":[
			  {"name":"beacon","MACAddress":"%v","pollPeriod":100,
			   "telemetry":[{"key":"temp","dataSourceType":"advertisement","valueExpression":"[0:2]","compute":"value / 100"},
			                {"key":"humidity","dataSourceType":"advertisement","advertisementField":"serviceData","serviceUUID":"181A","valueExpression":"[0:2]"}],
			   "attributes":[{"key":"localName","dataSourceType":"advertisement","advertisementField":"name"}]}]}`,
				passive, central, beacon.Addr)
			env := drivertest.Env(t, "BLE", "ble")
			logs := &logBuf{t: t}
			env.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cn, err := New([]byte(cfg), env)
			if err != nil {
				t.Fatal(err)
			}
			c := cn.(*Conn)
			if a, err := bluetooth.OpenAdapter(t.Context(), central); err != nil {
				t.Fatal(err)
			} else {
				h, err := a.AdvMonitors(t.Context())
				a.Close()
				if err != nil || len(h) != 0 {
					t.Fatalf("advertisement monitors left registered before the connector starts: %v %v", h, err)
				}
			}
			n0 := len(mon.Commands(central, bttest.OpLESetScanEnable, bttest.OpLESetExtScanEnable))
			p0 := len(mon.Commands(central, bttest.OpLESetScanParams, bttest.OpLESetExtScanParams))
			_, r0 := mon.Reports(central)
			sink := drivertest.NewSink()
			start := time.Now()
			drivertest.Run(t, c, sink)
			sink.Wait(t, 30*time.Second, "beacon advertising data", func(data []connector.Data) bool {
				v, _ := drivertest.Latest(data, "beacon", "temp", false)
				n, _ := drivertest.Latest(data, "beacon", "localName", true)
				return v == 25.0 && n == "beacon-7"
			})
			t.Logf("FIGURE passive=%v: beacon data stored %v after the connector started", passive, time.Since(start).Round(time.Millisecond))
			if !passive {
				sink.Wait(t, 30*time.Second, "scan response data", func(data []connector.Data) bool {
					h, _ := drivertest.Latest(data, "beacon", "humidity", false)
					return h == int64(0x0201)
				})
			}
			// Two more windows: scan enabled, disabled, enabled, disabled, enabled.
			var en []bttest.HCICommand
			drivertest.Eventually(t, 30*time.Second, "scanning windows", func() bool {
				en = mon.Commands(central, bttest.OpLESetScanEnable, bttest.OpLESetExtScanEnable)[n0:]
				for len(en) > 0 && !bttest.ScanEnable(en[0]) { // the previous connector's end
					en = en[1:]
				}
				return len(en) >= 5
			})
			drivertest.Eventually(t, 30*time.Second, "the scan map", func() bool {
				return strings.Contains(logs.String(), "scan map")
			})
			if passive {
				if _, ok := drivertest.Latest(sink.Data(), "beacon", "humidity", false); ok {
					t.Fatal("passive scan: the scan response's service data arrived")
				}
			}
			var types []byte
			for _, p := range mon.Commands(central, bttest.OpLESetScanParams, bttest.OpLESetExtScanParams)[p0:] {
				typ, _ := bttest.ScanType(p)
				types = append(types, typ)
			}
			_, r1 := mon.Reports(central)
			t.Logf("scan types %v, scan responses received %d", types, r1-r0)
			for _, typ := range types {
				if typ != map[bool]byte{true: 0, false: 1}[passive] {
					t.Fatalf("passive=%v: scan types %v", passive, types)
				}
			}
			if len(types) == 0 || passive != (r1 == r0) {
				t.Fatalf("passive=%v: scan types %v, %d scan responses", passive, types, r1-r0)
			}
			for i := 2; i < 5; i += 2 {
				on, gap := en[i-1].At.Sub(en[i-2].At), en[i].At.Sub(en[i-2].At)
				t.Logf("window: scanning %v, next window after %v", on.Round(time.Millisecond), gap.Round(time.Millisecond))
				if bttest.ScanEnable(en[i-1]) || !bttest.ScanEnable(en[i]) || gap < 1250*time.Millisecond || on >= gap {
					t.Fatalf("windows of 1 s every 2.5 s: scanning %v, next after %v", on, gap)
				}
			}
			m := logs.String()
			if !strings.Contains(m, beacon.Addr.String()) || strings.Contains(m, other.Addr.String()) {
				t.Fatalf("scan map for deviceName beacon-7:\n%s", m)
			}
		})
	}
}

// A beacon with a static random address, configured by MAC without
// addressType: its advertising data is converted, and the scanner saw it
// as a random address.
func TestKernelStaticRandomBeacon(t *testing.T) {
	idx := bttest.Virt(t, 2)
	static := bluetooth.Addr{0xC3, 0x11, 0x22, 0x33, 0x44, 0x55}
	bttest.StaticAddress(t, idx[1], static)
	bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("static-7").Manufacturer(0x0059, []byte{0x09, 0xC4}).Bytes(), nil)
	cfg := `{"name":"BLE","devices":[{"name":"beacon","MACAddress":"` + static.String() + `",
	  "telemetry":[{"key":"temp","dataSourceType":"advertisement","valueExpression":"[0:2]","compute":"value / 100"}]}]}`
	cn, err := New([]byte(cfg), drivertest.Env(t, "BLE", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "beacon data", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "beacon", "temp", false)
		return v == 25.0
	})
	if sg, ok := c.sighting(static); !ok || sg.typ != bluetooth.Random {
		t.Fatalf("sighting of %v: %+v %v", static, sg, ok)
	}
}
