//go:build kerneltest

package ble

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// The sensor of upstream's ble.json: a notify characteristic with
// humidity in byte 0 and temperature in byte 2, and the GAP device name.
type sensor struct {
	srv        *bluetooth.Server
	name, th   *bluetooth.ServerChar
	p          *bttest.Peripheral
	nameWrites chan string
}

func newSensor(t *testing.T, index int) *sensor { return newSensorMTU(t, index, 0) }

// newSensorMTU is a sensor whose GATT server offers the ATT MTU mtu (0:
// the largest).
func newSensorMTU(t *testing.T, index, mtu int) *sensor {
	s := &sensor{nameWrites: make(chan string, 8)}
	s.name = &bluetooth.ServerChar{UUID: att.DeviceName, Props: att.PropRead | att.PropWrite,
		OnWrite: func(v []byte) { s.nameWrites <- string(v) }}
	s.th = &bluetooth.ServerChar{UUID: att.MustUUID("226CAA55-6476-4566-7562-66734470666D"), Props: att.PropNotify}
	s.srv = bluetooth.NewServer(
		&bluetooth.ServerService{UUID: att.UUID16(0x1800), Chars: []*bluetooth.ServerChar{s.name}},
		&bluetooth.ServerService{UUID: att.MustUUID("226C0000-6476-4566-7562-66734470666D"), Chars: []*bluetooth.ServerChar{s.th}})
	s.srv.MTU = mtu
	s.srv.Set(context.Background(), s.name, []byte("tbgw"))
	s.p = bttest.NewPeripheral(t, index, new(adv.Builder).Name("LYWSD03MMC").Bytes(), s.srv)
	return s
}

// notify waits for a subscriber and notifies humidity/temperature.
func (s *sensor) notify(t *testing.T, hum, temp byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.srv.Subscribers(s.th) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connector did not subscribe")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.srv.Set(context.Background(), s.th, []byte{hum, 0, temp}) == 0 {
		t.Fatal("notification not sent")
	}
}

// upstreamConfig is testdata/ble.json with the device's MAC replaced.
func upstreamConfig(t *testing.T, mac bluetooth.Addr) []byte {
	return []byte(strings.ReplaceAll(upstreamBLE, "4C:65:A8:DF:85:C0", mac.String()))
}

const devName = "Temperature and humidity sensor"

func is(key string, attr bool, want any) func([]connector.Data) bool {
	return func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, devName, key, attr)
		return ok && v == want
	}
}

func rpc(t *testing.T, c *Conn, method string, params string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, _ := json.Marshal(params)
	res, err := c.OnRPC(ctx, connector.RPC{Device: devName, ID: 1, Method: method, Params: p, Timeout: 15 * time.Second})
	if err != nil {
		t.Fatalf("RPC %s: %v", method, err)
	}
	return res
}

func TestKernelUpstreamConfig(t *testing.T) {
	idx := bttest.Virt(t, 2)
	// The sensor runs before the connector starts: btvirt lets a central
	// connect to a controller that is not advertising yet, and the power
	// cycle of setting the sensor up then tears that link down while the
	// connector closes it, which trips a list corruption in the 6.1
	// kernel's hci_chan_del (fixed upstream by "Bluetooth: L2CAP: Fix
	// corrupted list in hci_chan_del").
	s := newSensor(t, idx[1])
	cn, err := New(upstreamConfig(t, s.p.Addr), drivertest.Env(t, "BLE Connector", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	sink := drivertest.NewSink()
	start := time.Now()
	drivertest.Run(t, c, sink)
	// Attributes: read once at connect (pollPeriod is 500 s), through the
	// bytes converter: "tbgw" is 116 98 103 119.
	sink.Wait(t, 30*time.Second, "name attribute", is("name", true, "11698cm 103119A"))
	t.Logf("FIGURE connector start → first data: %v", time.Since(start).Round(time.Millisecond))
	if v, _ := sink.Latest(devName, "values", true); v != "All values: 11698103119" {
		t.Errorf("values = %v", v)
	}
	// Notifications: both telemetry keys come from one characteristic.
	s.notify(t, 55, 22)
	sink.Wait(t, 10*time.Second, "temperature", is("temperature", false, "22"))
	if v, _ := sink.Latest(devName, "humidity", false); v != "55" {
		t.Errorf("humidity = %v", v)
	}

	// Attribute update → write on the peer.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.OnAttributes(ctx, devName, map[string]any{"sharedName": "hello", "other": 1.0}); err != nil {
		t.Fatal(err)
	}
	if w := <-s.nameWrites; w != "hello" {
		t.Fatalf("peer got %q", w)
	}
	if err := c.OnAttributes(ctx, "nobody", map[string]any{"sharedName": "x"}); err == nil {
		t.Error("attribute update for an unknown device accepted")
	}
	// RPCs of the file: read, write, scan; reserved get and set.
	if r := rpc(t, c, "rpcMethod1", ""); r != "hello" {
		t.Errorf("rpcMethod1 (read) = %v", r)
	}
	if r := rpc(t, c, "rpcMethod2", "from-rpc"); r != "Ok" || <-s.nameWrites != "from-rpc" {
		t.Errorf("rpcMethod2 (write) = %v", r)
	}
	if r, _ := rpc(t, c, "rpcMethod3", "").(string); !strings.Contains(r, "226CAA55-6476-4566-7562-66734470666D") || !strings.Contains(r, `"from-rpc"`) {
		t.Errorf("rpcMethod3 (scan) = %v", r)
	}
	if r := rpc(t, c, "set", "characteristicUUID=00002A00-0000-1000-8000-00805F9B34FB;value=via-set;"); r != "Ok" || <-s.nameWrites != "via-set" {
		t.Errorf("set = %v", r)
	}
	if r := rpc(t, c, "get", "characteristicUUID=2A00;"); r != "via-set" {
		t.Errorf("get = %v", r)
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: devName, Method: "nope", Params: json.RawMessage("null")}); err == nil {
		t.Error("unknown RPC method accepted")
	}

	// The sensor goes away and comes back: the connector reconnects and
	// subscribes again.
	s.p.Drop(true)
	deadline := time.Now().Add(20 * time.Second)
	for c.Stats()["linkLosses"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("link loss not noticed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.p.Accept()
	s.notify(t, 60, 23)
	sink.Wait(t, 30*time.Second, "temperature after reconnect", is("temperature", false, "23"))
	st := c.Stats()
	t.Logf("stats %v", st)
	if st["connects"] < 2 {
		t.Errorf("connects %d", st["connects"])
	}

	// Notification throughput through the connector, and accounting:
	// every notification of the burst is stored or counted as dropped.
	// Notification i carries humidity byte(i) and temperature i>>8, so
	// the last one (humidity 43, temperature 1) is unique: humidity 43
	// alone would also match notification 43.
	const n = 300
	before, mark := c.Stats(), len(sink.Data())
	start = time.Now()
	for i := 0; i < n; i++ {
		s.srv.Set(context.Background(), s.th, []byte{byte(i), 0, byte(i >> 8)})
	}
	burst := func() (stored, dropped int) {
		for _, d := range sink.Data()[mark:] {
			if d.Device == devName && len(d.Telemetry) > 0 {
				stored++
			}
		}
		st := c.Stats()
		dropped = int(st["notificationsDropped"] - before["notificationsDropped"] +
			st["notificationsDroppedKernel"] - before["notificationsDroppedKernel"])
		return stored, dropped
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		stored, dropped := burst()
		if stored+dropped == n {
			last, _ := drivertest.Latest(sink.Data(), devName, "humidity", false)
			t.Logf("FIGURE %d notifications sent, stored or counted in %v (%.0f/s): %d stored, %d dropped (connector queue %d, kernel %d); last humidity %v",
				n, time.Since(start), n/time.Since(start).Seconds(), stored, dropped,
				c.Stats()["notificationsDropped"]-before["notificationsDropped"],
				c.Stats()["notificationsDroppedKernel"]-before["notificationsDroppedKernel"], last)
			if dropped == 0 && (!is("humidity", false, "43")(sink.Data()) || !is("temperature", false, "1")(sink.Data())) {
				t.Fatalf("nothing dropped but the last notification is not the latest value")
			}
			break
		}
		if stored+dropped > n || time.Now().After(deadline) {
			t.Fatalf("burst of %d: %d stored, %d counted as dropped", n, stored, dropped)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") {
				t.Logf("FIGURE test process (connector, peripheral and test harness): %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
}

// Upstream's ble.json against a sensor whose address is a static random
// one (the connector learns the type from the scan) and whose GATT server
// keeps the ATT MTU at 23: attribute updates and RPC writes longer than
// 20 bytes become long writes (Prepare/Execute Write), read back through
// long reads.
func TestKernelStaticRandomLongWrites(t *testing.T) {
	idx := bttest.Virt(t, 2)
	static := bluetooth.Addr{0xC4, 0x65, 0xA8, 0xDF, 0x85, 0xC0}
	bttest.StaticAddress(t, idx[1], static)
	s := newSensorMTU(t, idx[1], att.DefaultMTU)
	cn, err := New(upstreamConfig(t, static), drivertest.Env(t, "BLE Connector", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "name attribute", is("name", true, "11698cm 103119A"))
	s.notify(t, 55, 22)
	sink.Wait(t, 10*time.Second, "temperature", is("temperature", false, "22"))
	if r := s.p.Remotes(); len(r) != 1 {
		t.Fatalf("sensor's centrals %v", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	long := strings.Repeat("attribute update ", 6) // 102 bytes: 6 Prepare Writes of 18
	if err := c.OnAttributes(ctx, devName, map[string]any{"sharedName": long}); err != nil {
		t.Fatal(err)
	}
	if w := <-s.nameWrites; w != long {
		t.Fatalf("peer got %q", w)
	}
	longer := strings.Repeat("0123456789", 50) // 500 bytes
	if r := rpc(t, c, "rpcMethod2", longer); r != "Ok" {
		t.Fatalf("rpcMethod2 (write) = %v", r)
	}
	if w := <-s.nameWrites; w != longer {
		t.Fatalf("peer got %d bytes, want 500", len(w))
	}
	if r := rpc(t, c, "rpcMethod1", ""); r != longer {
		t.Fatalf("rpcMethod1 (read) = %v", r)
	}
	if n := s.srv.Writes(s.name); n != 2 {
		t.Errorf("peer counted %d writes, want 2", n)
	}
	t.Logf("stats %v", c.Stats())
}

// Two configured devices, one of which does not exist, and a beacon that
// is never connected: the absent device keeps failing to connect while the
// others keep reporting.
func TestKernelAbsentDeviceAndBeacon(t *testing.T) {
	idx := bttest.Virt(t, 3)
	s := newSensor(t, idx[1])
	beacon := bttest.NewPeripheral(t, idx[2], new(adv.Builder).Name("beacon-7").
		Manufacturer(0x0059, []byte{0x09, 0xC4, 0x17}).ServiceData(att.UUID16(0x181A), []byte{0x02, 0x01}).Bytes(), nil)
	cfg := `{"name":"BLE","passiveScanMode":true,"scanner":{"timeout":1000},"showMap":true,"devices":[
	  {"name":"` + devName + `","MACAddress":"` + s.p.Addr.String() + `","timeout":5000,
	   "telemetry":[{"key":"temperature","method":"notify","characteristicUUID":"226CAA55-6476-4566-7562-66734470666D","valueExpression":"[2]"}]},
	  {"name":"absent","MACAddress":"C0:11:22:33:44:55","addressType":"random","timeout":700,"connectRetry":2,"connectRetryInSeconds":0,"waitAfterConnectRetries":1,
	   "telemetry":[{"key":"x","method":"read","characteristicUUID":"2A00"}]},
	  {"name":"beacon","MACAddress":"` + beacon.Addr.String() + `","pollPeriod":100,
	   "telemetry":[{"key":"temp","dataSourceType":"advertisement","valueExpression":"[0:2]","compute":"value / 100"},
	                {"key":"humidity","dataSourceType":"advertisement","advertisementField":"serviceData","serviceUUID":"181A","valueExpression":"[0:2]"}],
	   "attributes":[{"key":"localName","dataSourceType":"advertisement","advertisementField":"name"}]}]}`
	cn, err := New([]byte(cfg), drivertest.Env(t, "BLE", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "beacon data", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "beacon", "temp", false)
		h, _ := drivertest.Latest(data, "beacon", "humidity", false)
		n, _ := drivertest.Latest(data, "beacon", "localName", true)
		return v == 25.0 && h == int64(0x0201) && n == "beacon-7"
	})
	s.notify(t, 50, 21)
	sink.Wait(t, 30*time.Second, "sensor data", is("temperature", false, "21"))
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats()["connectFailures"] < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("absent device: %v", c.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The sensor still reports while the absent device keeps failing.
	s.notify(t, 50, 24)
	sink.Wait(t, 30*time.Second, "sensor data", is("temperature", false, "24"))
	for _, d := range sink.Data() {
		if d.Device == "absent" {
			t.Fatalf("data for the absent device: %+v", d)
		}
	}
	t.Logf("stats %v", c.Stats())
}

func TestKernelConformance(t *testing.T) {
	idx := bttest.Virt(t, 2)
	s := newSensor(t, idx[1])
	var n byte
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "ble",
		Factory: New,
		Config:  func(t *testing.T) []byte { return upstreamConfig(t, s.p.Addr) },
		Trigger: func(t *testing.T) {
			n++
			s.srv.Set(context.Background(), s.th, []byte{n, 0, n})
		},
		Bad: map[string]string{
			`{"devices":[{"name":"d","MACAddress":"4C:65:A8:DF:85"}]}`:                                                                           "devices[0].MACAddress",
			`{"devices":[{"name":"d","MACAddress":"4C:65:A8:DF:85:C0","telemetry":[{"key":"t","method":"write","characteristicUUID":"2A00"}]}]}`: "devices[0].telemetry[0].method",
			`{"adapter":"bt0","devices":[]}`: "adapter",
		},
	})
}
