//go:build kerneltest && linux

package main

// The tbgw binary built with the BLE connector alone (-tags
// custom,drivers.ble, put at /bin/tbgw-ble by scripts/kernel-test.sh) on
// a real kernel with btvirt controllers: upstream's ble.json (MAC
// changed) against a GATT sensor, plus a beacon that starts advertising
// while the gateway runs. It reports the figures of the BLE note: time to
// first data, notifications per second end to end, resident memory.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
	"github.com/tbgw/tbgw/gw/tbtest"
)

func TestKernelBLEGateway(t *testing.T) {
	bin := "/bin/tbgw-ble"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (built by scripts/kernel-test.sh)", bin, err)
	}
	idx := bttest.Virt(t, 3)
	ctx := context.Background()
	name := &bluetooth.ServerChar{UUID: att.DeviceName, Props: att.PropRead}
	th := &bluetooth.ServerChar{UUID: att.MustUUID("226CAA55-6476-4566-7562-66734470666D"), Props: att.PropNotify}
	srv := bluetooth.NewServer(
		&bluetooth.ServerService{UUID: att.UUID16(0x1800), Chars: []*bluetooth.ServerChar{name}},
		&bluetooth.ServerService{UUID: att.MustUUID("226C0000-6476-4566-7562-66734470666D"), Chars: []*bluetooth.ServerChar{th}})
	srv.Set(ctx, name, []byte("tbgw"))
	sensor := bttest.NewPeripheral(t, idx[1], new(adv.Builder).Name("LYWSD03MMC").Bytes(), srv)

	up, err := os.ReadFile("testdata/upstream/ble.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(up), "4C:65:A8:DF:85:C0", sensor.Addr.String())), &cfg); err != nil {
		t.Fatal(err)
	}
	// The beacon's controller gets a static random address so that it is
	// known before it advertises.
	beaconAddr := bluetooth.Addr{0xC4, 0x01, 0x02, 0x03, 0x04, 0x05}
	bttest.StaticAddress(t, idx[2], beaconAddr)
	cfg["devices"] = append(cfg["devices"].([]any), map[string]any{
		"name": "beacon", "MACAddress": beaconAddr.String(), "pollPeriod": 100,
		"telemetry": []any{map[string]any{"key": "temp", "dataSourceType": "advertisement", "valueExpression": "[0:2]", "compute": "value / 100"}},
	})
	bleJSON, _ := json.Marshal(cfg)

	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := t.TempDir()
	main, _ := json.Marshal(map[string]any{
		"thingsboard": map[string]any{
			"host": b.Host, "port": b.Port, "qos": 1,
			"security": map[string]any{"type": "accessToken", "accessToken": "test-token"},
		},
		"storage":    json.RawMessage(`{"type":"memory","max_records_count":100000}`),
		"connectors": []any{map[string]any{"type": "ble", "name": "BLE Connector", "configuration": "ble.json"}},
	})
	for n, data := range map[string][]byte{"tb_gateway.json": main, "ble.json": bleJSON} {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-c", dir)
	cmd.Stderr = logWriter{t}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	const dev = "Temperature and humidity sensor"
	tb.WaitAttribute(dev, "name", func(v any) bool { return v == "11698cm 103119A" }, 60*time.Second)
	t.Logf("FIGURE tbgw-ble process start → first data at ThingsBoard: %v", time.Since(start).Round(time.Millisecond))

	// The beacon appears while the gateway runs.
	appear := time.Now()
	bttest.NewPeripheral(t, idx[2], new(adv.Builder).Manufacturer(0x0059, []byte{0x09, 0xC4}).Bytes(), nil)
	tb.WaitTelemetry("beacon", "temp", func(v any) bool { return v == 25.0 }, 30*time.Second)
	t.Logf("FIGURE beacon starts advertising → its telemetry at ThingsBoard: %v", time.Since(appear).Round(time.Millisecond))

	// Notifications end to end: a burst of n; every notification reaches
	// ThingsBoard or is counted as dropped in the connector's statistics.
	// Notification i carries humidity byte(i) and temperature i>>8: the
	// last one (humidity 244, temperature 1) is unique, humidity 244 alone
	// also matches notification 244 (which made an earlier version of
	// this test count the records while half the burst was still on its
	// way: 332-360 of 500).
	tb.Wait(30*time.Second, "subscription", func() bool { return srv.Subscribers(th) > 0 })
	const n = 500
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		srv.Set(ctx, th, []byte{byte(i), 0, byte(i >> 8)})
	}
	sent := time.Since(t0)
	count := func() int {
		got := 0
		for _, r := range tb.Telemetry(dev) {
			if _, ok := r.Values["humidity"]; ok {
				got++
			}
		}
		return got
	}
	stat := func(st map[string]any, k string) int {
		v, _ := st["BLEConnector"+k].(float64)
		return int(v)
	}
	var got, dropped, queued int
	var el time.Duration
	var asked time.Time
	tb.Wait(60*time.Second, "every notification at ThingsBoard or counted as dropped", func() bool {
		// The statistics reply is itself a change: ask at most every
		// 200 ms unless records arrived.
		if c := count(); c == got && time.Since(asked) < 200*time.Millisecond {
			return false
		}
		asked = time.Now()
		reply, err := tb.GatewayRPC("gateway_stats", nil, 10*time.Second)
		var st map[string]any
		if err != nil || json.Unmarshal(reply, &st) != nil {
			return false
		}
		got, el = count(), time.Since(t0)
		queued = stat(st, "Notifications")
		dropped = stat(st, "NotificationsDropped") + stat(st, "NotificationsDroppedKernel")
		if got > n || queued+dropped > n {
			t.Fatalf("%d records at ThingsBoard, %d notifications queued, %d dropped: more than the %d sent", got, queued, dropped, n)
		}
		return got+dropped == n && queued == got
	})
	if dropped == 0 {
		tb.WaitTelemetry(dev, "temperature", func(v any) bool { return v == "1" }, time.Second)
		if v, _ := tb.Latest(dev, "humidity"); v != "244" {
			t.Fatalf("latest humidity %v, want 244", v)
		}
	}
	t.Logf("FIGURE %d notifications sent in %v; %d records at ThingsBoard, %d counted as dropped, after %v (%.0f/s end to end)",
		n, sent.Round(time.Millisecond), got, dropped, el.Round(time.Millisecond), float64(got)/el.Seconds())
	t.Logf("FIGURE tbgw-ble RSS %d kB (BLE connector alone, memory storage, after the burst)", rssKB(t, cmd.Process.Pid))
}
