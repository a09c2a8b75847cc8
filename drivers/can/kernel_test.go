//go:build kerneltest && linux

package can_test

// Connector tests on a kernel with SocketCAN (scripts/kernel-test.sh):
// can-utils put frames on vcan0 and check what the connector sends.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/can"
	"github.com/tbgw/tbgw/drivers/can/cantest"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
	"golang.org/x/sys/unix"
)

func start(t *testing.T, cfg string) (*can.Connector, *drivertest.Sink) {
	t.Helper()
	cantest.Require(t)
	c, err := can.New([]byte(cfg), drivertest.Env(t, "can", "can"))
	if err != nil {
		t.Fatal(err)
	}
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitConnected(t, c.(*can.Connector), sink)
	return c.(*can.Connector), sink
}

// waitConnected waits until the connector announced its devices.
func waitConnected(t testing.TB, c *can.Connector, sink *drivertest.Sink) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.Connects()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("connector did not connect to the bus within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitValue(t *testing.T, sink *drivertest.Sink, device, key string, attr bool, want any) {
	t.Helper()
	sink.Wait(t, 10*time.Second, device+"/"+key, func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, device, key, attr)
		return ok && v == want
	})
}

func rpc(t *testing.T, c *can.Connector, device, method, params string) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.OnRPC(ctx, connector.RPC{Device: device, Method: method, Params: json.RawMessage(params), Timeout: 5 * time.Second})
}

// TestUpstreamCanJSON: upstream's can.json unchanged: its polls go out,
// its frames come in as telemetry and attributes, its attribute update
// and RPCs come out byte for byte.
func TestUpstreamCanJSON(t *testing.T) {
	raw, err := os.ReadFile("testdata/can.json")
	if err != nil {
		t.Fatal(err)
	}
	d := cantest.Candump(t, "")
	c, sink := start(t, string(raw))
	// Polling: once (id 41) and the two "always" frames of id 1918 (the
	// kernel sends them at once, then every 5 and 30 s).
	got := map[string]bool{}
	for len(got) < 3 {
		f, err := d.Next(10 * time.Second)
		if err != nil {
			t.Fatalf("polls seen %v: %v", got, err)
		}
		got[f] = true
	}
	for _, want := range []string{"029#ABCDABCD", "0000077E#AAAABBBBAAAABBBB", "0000077E#AABBCCDDEEFFAABB"} {
		if !got[want] {
			t.Errorf("poll %s not seen; got %v", want, got)
		}
	}
	// Uplink: the door bit (command 8717 at bytes 2-3), rpm (command 48059)
	// and milliage (any frame of 1918).
	cantest.Send(t, "029#0000220D04")
	waitValue(t, sink, "Car", "isDriverDoorOpened", true, true)
	cantest.Send(t, "029#0000220D00")
	waitValue(t, sink, "Car", "isDriverDoorOpened", true, false)
	cantest.Send(t, "029#0000FFFF04") // another command: ignored
	cantest.Send(t, "0000077E#0000BBBB0FA0")
	waitValue(t, sink, "Car", "rpm", false, 1000.0)
	waitValue(t, sink, "Car", "milliage", false, int64(0xA00F*10))
	if v, _ := sink.Latest("Car", "isDriverDoorOpened", true); v != false {
		t.Errorf("a frame with another command changed the attribute to %v", v)
	}
	// Downlink, checked with candump.
	d.Flush(5 * time.Second) // periodic polls so far
	if err := c.OnAttributes(context.Background(), "Car", map[string]any{"softwareVersion": float64(7)}); err != nil {
		t.Fatal(err)
	}
	expectSkipping(t, d, "00000040#0C000000")
	if res, err := rpc(t, c, "Car", "setLightLevel", `{"value":500}`); err != nil || res.(map[string]any)["success"] != true {
		t.Fatalf("setLightLevel: %v %v", res, err)
	}
	expectSkipping(t, d, "005#00AAF401")
	if _, err := rpc(t, c, "Car", "setSpeed", `{"userSpeed":70,"maxAllowedSpeed":50}`); err != nil {
		t.Fatal(err)
	}
	expectSkipping(t, d, "010#320102")
	// overrideRpcConfig (implied by enableUnknownRpc): params win.
	if _, err := rpc(t, c, "Car", "setLightLevel", `{"value":1,"nodeId":6,"dataLength":1}`); err != nil {
		t.Fatal(err)
	}
	expectSkipping(t, d, "006#00AA01")
	// Upstream's own sendSameData has malformed hex: a clear error.
	if _, err := rpc(t, c, "Car", "sendSameData", `{}`); err == nil || !strings.Contains(err.Error(), "dataInHex") {
		t.Errorf("sendSameData: %v", err)
	}
	// enableUnknownRpc: the params describe the frame, FD with BRS too.
	if _, err := rpc(t, c, "Car", "anything", `{"nodeId":100,"isExtendedId":true,"isFd":true,"bitrateSwitch":true,"dataInHex":"0102030405060708090A0B0C"}`); err != nil {
		t.Fatal(err)
	}
	expectSkipping(t, d, "00000064##5"+"0102030405060708090A0B0C")
	// The reserved "set": key=value; params.
	if _, err := rpc(t, c, "Car", "set", `"nodeId=291;dataLength=2;value=-2;"`); err != nil {
		t.Fatal(err)
	}
	expectSkipping(t, d, "123#FFFE")
}

// expectSkipping expects want on the bus, skipping the periodic polls of
// can.json that may come in between.
func expectSkipping(t *testing.T, d *cantest.Dump, want string) {
	t.Helper()
	for {
		got, err := d.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("want %s: %v", want, err)
		}
		if got == want {
			return
		}
		if !strings.HasPrefix(got, "0000077E#") {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

const typesConfig = `{
  "channel": "vcan0", "backend": {"fd": true},
  "devices": [{
    "name": "Types", "sendDataOnlyOnChange": false,
    "timeseries": [
      {"key": "bool", "nodeId": 256, "value": "0:1:bool"},
      {"key": "i16be", "nodeId": 256, "value": "1:2:big:int:signed"},
      {"key": "i16le", "nodeId": 256, "value": "1:2:little:int:signed"},
      {"key": "u32", "nodeId": 256, "value": "3:4:little:long"},
      {"key": "raw", "nodeId": 256, "value": "5:-1:raw"},
      {"key": "f32be", "nodeId": 257, "value": "0:4:big:float"},
      {"key": "f32le", "nodeId": 257, "value": "4:4:little:float"},
      {"key": "f64be", "nodeId": 258, "isExtendedId": true, "value": "0:8:big:double"},
      {"key": "f64le", "nodeId": 259, "isExtendedId": true, "value": {"start": 0, "length": 8, "byteorder": "little", "type": "double"}},
      {"key": "ascii", "nodeId": 260, "value": "0:-1:string"},
      {"key": "utf8", "nodeId": 261, "isFd": true, "value": "0:-1:string:utf-8"},
      {"key": "fdint", "nodeId": 261, "isFd": true, "value": "10:2:int", "expression": "value + len(can_data)"},
      {"key": "temp", "nodeId": 262, "command": "0:1:1", "value": "1:2:int:signed", "expression": "value / 10"},
      {"key": "hum", "nodeId": 262, "command": "0:1:2", "value": "1:1:int"}
    ]
  }]
}`

// TestValueTypes: every value type and byte order, classic and FD,
// standard and extended identifiers, commands sharing an identifier.
func TestValueTypes(t *testing.T) {
	_, sink := start(t, strings.Replace(typesConfig, `"sendDataOnlyOnChange": false`, `"sendDataOnlyOnChange": false, "strictEval": false`, 1))
	cantest.Send(t, "100#01FFFE0100000ABC")
	cantest.Send(t, "101#40490FDBDB0F4940")
	cantest.Send(t, "00000102#400921FB54442D18")
	cantest.Send(t, "00000103#182D4454FB210940")
	cantest.Send(t, "104#68656C6C6F")
	cantest.Send(t, "105##1C3A9C3A9C3A9C3A9C3A90102") // 12 bytes FD
	cantest.Send(t, "106#01FF38")
	cantest.Send(t, "106#0242")
	for key, want := range map[string]any{
		"bool": true, "i16be": int64(-2), "i16le": int64(-257), "u32": int64(0x0a000001), "raw": "000abc",
		"f32be": float64(float32(3.1415927)), "f32le": float64(float32(3.1415927)),
		"f64be": 3.141592653589793, "f64le": 3.141592653589793, "ascii": "hello",
		"utf8": "ééééé\x01\x02", "fdint": int64(0x0102 + 12), "temp": -20.0, "hum": int64(0x42),
	} {
		waitValue(t, sink, "Types", key, false, want)
	}
}

// TestPolling: "once" goes out once per connection, "always" at its
// period (CAN_BCM), within tolerance.
func TestPolling(t *testing.T) {
	d := cantest.Candump(t, "")
	start(t, `{"channel":"vcan0","devices":[{"name":"P","timeseries":[
	  {"key":"a","nodeId":32,"value":"0:1:int","polling":{"type":"once","dataInHex":"01"}},
	  {"key":"b","nodeId":33,"value":"0:1:int","polling":{"type":"always","period":0.2,"dataInHex":"02"}}]}]}`)
	var times []time.Time
	once := 0
	for len(times) < 8 {
		f, err := d.Next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		switch f {
		case "020#01":
			once++
		case "021#02":
			times = append(times, time.Now())
		default:
			t.Fatalf("unexpected %s", f)
		}
	}
	if once != 1 {
		t.Errorf("once-poll seen %d times", once)
	}
	span := times[len(times)-1].Sub(times[0])
	if span < 1100*time.Millisecond || span > 2200*time.Millisecond {
		t.Errorf("8 frames at 200 ms took %v, want about 1.4 s", span)
	}
}

// TestOnlyOnChange: sendDataOnlyOnChange drops repeated values.
func TestOnlyOnChange(t *testing.T) {
	_, sink := start(t, `{"channel":"vcan0","devices":[{"name":"C","sendDataOnlyOnChange":true,
	  "attributes":[{"key":"v","nodeId":48,"value":"0:1:int"}]}]}`)
	for _, s := range []string{"030#01", "030#01", "030#01", "030#02", "030#02", "030#01"} {
		cantest.Send(t, s)
	}
	sink.Wait(t, 10*time.Second, "three changes", func(data []connector.Data) bool {
		n := 0
		for _, d := range data {
			n += len(d.Attributes)
		}
		return n >= 3
	})
	cantest.Send(t, "030#09")
	waitValue(t, sink, "C", "v", true, int64(9))
	var got []any
	for _, d := range sink.Data() {
		for _, p := range d.Attributes {
			got = append(got, p.Value)
		}
	}
	if len(got) != 4 || got[0] != int64(1) || got[1] != int64(2) || got[2] != int64(1) {
		t.Fatalf("values sent %v, want 1 2 1 9", got)
	}
}

// TestFloodFiltered: thousands of frames with unmapped identifiers never
// wake the connector: the kernel filters them.
func TestFloodFiltered(t *testing.T) {
	c, sink := start(t, `{"channel":"vcan0","devices":[{"name":"F",
	  "timeseries":[{"key":"v","nodeId":1193046,"isExtendedId":true,"value":"0:2:int"}]}]}`)
	cantest.Run(t, "cangen", cantest.Iface, "-g", "0", "-n", "5000", "-I", "r", "-L", "8", "-D", "r")
	cantest.Send(t, "123#0001") // the same number as a standard id: not ours
	cantest.Send(t, "00123456#0102")
	waitValue(t, sink, "F", "v", false, int64(0x0102))
	st := c.Stats()
	if st["framesReceived"] != 1 || st["framesIgnored"] != 0 {
		t.Fatalf("stats %v: the connector saw unmapped frames", st)
	}
}

// TestInterfaceDownUp: the bus going down is survived: devices are
// reported gone, the connector retries every reconnectPeriod, and data
// flows again once the interface is back.
func TestInterfaceDownUp(t *testing.T) {
	c, sink := start(t, `{"channel":"vcan0","reconnectPeriod":0.2,"devices":[{"name":"R",
	  "timeseries":[{"key":"v","nodeId":64,"value":"0:1:int"}]}]}`)
	cantest.Send(t, "040#01")
	waitValue(t, sink, "R", "v", false, int64(1))
	cantest.Link(t, "down")
	t.Cleanup(func() { cantest.Link(t, "up") })
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.Disconnects()) == 0 || c.Stats()["reconnects"] < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no disconnect/reconnect attempts: %v %v", sink.Disconnects(), c.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := len(sink.Connects())
	cantest.Link(t, "up")
	for len(sink.Connects()) == n {
		if time.Now().After(deadline) {
			t.Fatal("not reconnected within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cantest.Send(t, "040#02")
	waitValue(t, sink, "R", "v", false, int64(2))
}

// TestReconnectCount: with reconnectCount the connector gives up (Run
// returns the error; the gateway's supervisor restarts it later).
func TestReconnectCount(t *testing.T) {
	cantest.Require(t)
	c, err := can.New([]byte(`{"channel":"vcan7","reconnectPeriod":0.05,"reconnectCount":2,
	  "devices":[{"name":"X","timeseries":[{"key":"v","nodeId":1,"value":"0:1:int"}]}]}`), drivertest.Env(t, "can", "can"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Run(ctx, drivertest.NewSink())
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 reconnect attempts") || !strings.Contains(err.Error(), "vcan7") {
		t.Fatalf("Run: %v", err)
	}
	if n := c.(*can.Connector).Stats()["reconnects"]; n != 2 {
		t.Errorf("%d reconnects, want 2", n)
	}
}

// TestErrorFramesCounted: bus-off and error-passive reports are counted.
func TestErrorFramesCounted(t *testing.T) {
	c, sink := start(t, `{"channel":"vcan0","devices":[{"name":"E","timeseries":[{"key":"v","nodeId":80,"value":"0:1:int"}]}]}`)
	cantest.Send(t, "20000040#0000000000000000")
	cantest.Send(t, "20000004#0010000000000000")
	cantest.Send(t, "050#07")
	waitValue(t, sink, "E", "v", false, int64(7))
	st := c.Stats()
	if st["errorFrames"] != 2 || st["error.bus-off"] != 1 || st["error.error-passive"] != 1 {
		t.Fatalf("stats %v", st)
	}
}

// TestConformance: the connector contract (stop, storage full, panics,
// stopped downlink, bad configs) with frames from cansend.
func TestConformance(t *testing.T) {
	cantest.Require(t)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "can",
		Factory: can.New,
		Config: func(t *testing.T) []byte {
			return []byte(`{"channel":"vcan0","devices":[{"name":"K",
			  "timeseries":[{"key":"v","nodeId":96,"value":"0:1:int"}],
			  "serverSideRpc":[{"method":"m","nodeId":97,"dataInHex":"01"}]}]}`)
		},
		Trigger: func(t *testing.T) { cantest.Send(t, "060#05") },
		Bad: map[string]string{
			`{"devices":[{"name":"K","timeseries":[{"key":"v","value":"0:1:int"}]}]}`:              "devices[0].timeseries[0].nodeId",
			`{"interface":"kvaser","devices":[{"name":"K"}]}`:                                      "interface",
			`{"devices":[{"name":"K","timeseries":[{"key":"v","nodeId":1,"value":"0:1:bogus"}]}]}`: "devices[0].timeseries[0].value",
		},
		RPC: connector.RPC{Device: "K", Method: "m", Params: json.RawMessage(`{}`)},
	})
}

// BenchmarkKernelConnector: the connector alone (socket, filters, decode,
// a recording sink) under a cangen flood of one mapped identifier; it
// reports frames/s that became datapoints, CPU time per 1000 frames and
// the share of the flood the kernel kept.
func BenchmarkKernelConnector(b *testing.B) {
	cantest.Require(b)
	c, err := can.New([]byte(`{"channel":"vcan0","devices":[{"name":"B","timeseries":[
	  {"key":"v","nodeId":256,"value":"0:2:little:int"},
	  {"key":"marker","nodeId":257,"value":"0:1:int"}]}]}`), drivertest.Env(b, "can", "can"))
	if err != nil {
		b.Fatal(err)
	}
	sink := drivertest.NewSink()
	drivertest.Run(b, c, sink)
	waitConnected(b, c.(*can.Connector), sink)
	const frames = 20000
	for i := 0; i < b.N; i++ {
		sink.Reset()
		var ru0, ru1 unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		start := time.Now()
		cantest.Run(b, "cangen", cantest.Iface, "-g", "0", "-n", strconv.Itoa(frames), "-I", "100", "-L", "2", "-D", "i")
		marker := int64(i%250 + 1)
		for try := 0; ; try++ {
			cantest.Send(b, fmt.Sprintf("101#%02X", marker))
			if awaitValue(sink, "B", "marker", marker, 3*time.Second) {
				break
			}
			if try == 5 {
				b.Fatal("marker frame not received")
			}
		}
		el := time.Since(start)
		unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		got := 0
		for _, d := range sink.Data() {
			for _, p := range d.Telemetry {
				if p.Key == "v" {
					got++
				}
			}
		}
		cpu := time.Duration(unix.TimevalToNsec(ru1.Utime)+unix.TimevalToNsec(ru1.Stime)-
			unix.TimevalToNsec(ru0.Utime)-unix.TimevalToNsec(ru0.Stime)) * time.Nanosecond
		b.ReportMetric(float64(got)/el.Seconds(), "frames/s")
		b.ReportMetric(float64(cpu.Microseconds())/1000/(float64(got)/1000), "cpu-ms/1000frames")
		b.ReportMetric(float64(got)/frames*100, "%delivered")
		b.Logf("cangen flooded %d frames; %d became datapoints in %v; CPU %v; the kernel dropped %d so far (framesDropped)",
			frames, got, el, cpu, c.(*can.Connector).Stats()["framesDropped"])
	}
}

// awaitValue reports whether key reaches want within timeout.
func awaitValue(sink *drivertest.Sink, device, key string, want any, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if v, ok := sink.Latest(device, key, false); ok && v == want {
			return true
		}
		sink.WaitChange(100 * time.Millisecond)
	}
	return false
}
