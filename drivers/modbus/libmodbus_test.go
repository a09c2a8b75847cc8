package modbus

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// lmbDevice is a device reading the libmodbus slave's known data.
func lmbDevice(conn cfgMap) cfgMap {
	d := cfgMap{
		"unitId": 1, "deviceName": "L", "pollPeriod": 100, "byteOrder": "BIG", "wordOrder": "BIG",
		"timeout": 1, "retries": 2, "connectAttemptTimeMs": 500, "connectAttemptCount": 1000,
		"timeseries": []any{
			cfgMap{"tag": "hr${address}", "type": "16uint", "functionCode": 3, "address": "0-9"},
			cfgMap{"tag": "ir5", "type": "16uint", "functionCode": 4, "address": 5},
			cfgMap{"tag": "coil1", "type": "bits", "functionCode": 1, "address": 1},
			cfgMap{"tag": "di1", "type": "bits", "functionCode": 2, "address": 1},
		},
		"attributeUpdates": []any{
			cfgMap{"tag": "w16", "type": "32uint", "functionCode": 16, "objectsCount": 2, "address": 20},
			cfgMap{"tag": "w15", "type": "bits", "functionCode": 15, "objectsCount": 8, "address": 30},
		},
		"rpc": []any{
			cfgMap{"tag": "set6", "type": "16int", "functionCode": 6, "address": 10},
			cfgMap{"tag": "set5", "type": "bits", "functionCode": 5, "address": 40},
			cfgMap{"tag": "get6", "type": "16int", "functionCode": 3, "address": 10},
		},
	}
	for k, v := range conn {
		d[k] = v
	}
	return d
}

func waitValue(t *testing.T, sink *drivertest.Sink, key string, want any) {
	t.Helper()
	sink.Wait(t, 15*time.Second, fmt.Sprintf("%s = %v", key, want), func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, "L", key, false)
		return ok && v == want
	})
}

func libmodbusChecks(t *testing.T, p *cPeer, c *Connector, sink *drivertest.Sink) {
	t.Helper()
	for i := range 10 {
		waitValue(t, sink, fmt.Sprintf("hr%d", i), int64(i))
	}
	waitValue(t, sink, "ir5", int64(1005))
	waitValue(t, sink, "coil1", true)
	waitValue(t, sink, "di1", false)
	ctx := context.Background()
	expect := func(what, want string) {
		t.Helper()
		l := p.Line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "W ") })
		if l != want {
			t.Errorf("%s: slave saw %q, want %q", what, l, want)
		}
	}
	r, err := c.OnRPC(ctx, connector.RPC{Device: "L", Method: "set6", Params: json.RawMessage("-2")})
	if err != nil || reply(t, r) != `{"result":{"value":-2}}` {
		t.Errorf("set6: %s %v", reply(t, r), err)
	}
	expect("set6", "W 6 10 65534")
	r, _ = c.OnRPC(ctx, connector.RPC{Device: "L", Method: "get6", Params: json.RawMessage("null")})
	if reply(t, r) != `{"result":{"value":-2}}` {
		t.Errorf("get6: %s", reply(t, r))
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: "L", Method: "set5", Params: json.RawMessage("true")}); err != nil {
		t.Error(err)
	}
	expect("set5", "W 5 40 1")
	if err := c.OnAttributes(ctx, "L", map[string]any{"w16": 305419896.0, "w15": []any{1, 1, 0, 0, 0, 0, 0, 1}}); err != nil {
		t.Error(err)
	}
	expect("w16", "W 16 20 4660 22136")
	expect("w15", "W 15 30 1 0 0 0 0 0 1 1") // upstream's per-byte reversed coil order
	waitValue(t, sink, "hr9", int64(9))
}

// The libmodbus slave over TCP: reads, writes with all write functions.
func TestLibmodbusTCP(t *testing.T) {
	p := startLibmodbus(t, "tcp", "0")
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{lmbDevice(cfgMap{"host": "127.0.0.1", "port": p.port, "type": "tcp", "method": "socket"})}}})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	libmodbusChecks(t, p, c, sink)
}

// The libmodbus slave over RTU on a pty pair, with bad CRCs injected.
func TestLibmodbusRTU(t *testing.T) {
	srv, cli := ptyPair(t)
	p := startLibmodbus(t, "rtu", srv, "38400")
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{lmbDevice(cfgMap{"type": "serial", "method": "rtu", "port": cli, "baudrate": 38400})}}})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	libmodbusChecks(t, p, c, sink)
	for _, fault := range []string{"badcrc 2", "garble 2", "truncate 1", "silent 2"} {
		p.cmd("fault " + fault)
		sink.Reset()
		waitValue(t, sink, "hr3", int64(3))
	}
	if d := sink.Disconnects(); len(d) != 0 {
		t.Errorf("retried faults made the device go offline: %v", d)
	}
}

// Malformed, truncated and missing answers are retried (a truncated frame
// closes the connection first); when retries run out the device goes
// offline and comes back by itself.
func TestMalformedResponses(t *testing.T) {
	p := startLibmodbus(t, "tcp", "0")
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{lmbDevice(cfgMap{"host": "127.0.0.1", "port": p.port, "type": "tcp", "method": "socket"})}}})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitValue(t, sink, "hr3", int64(3))
	for _, fault := range []string{"garble 2", "truncate 1", "silent 1"} {
		p.cmd("fault " + fault)
		sink.Reset()
		waitValue(t, sink, "hr3", int64(3))
	}
	if d := sink.Disconnects(); len(d) != 0 {
		t.Fatalf("retried faults made the device go offline: %v", d)
	}
	// Six silent answers exhaust 1 + 2 retries of a whole poll (the fault
	// may start in the middle of one).
	sink.Reset()
	p.cmd("fault silent 6")
	waitFor(t, 20*time.Second, "disconnect", func() bool { return len(sink.Disconnects()) == 1 })
	waitFor(t, 20*time.Second, "reconnect", func() bool { return len(sink.Connects()) == 1 })
	waitValue(t, sink, "hr3", int64(3))

	// An RPC running into the RPC timeout.
	p.cmd("fault silent 1")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := c.OnRPC(ctx, connector.RPC{Device: "L", Method: "get6", Params: json.RawMessage("null"), Timeout: 300 * time.Millisecond})
	if err != nil || reply(t, r) != `{"result":{"error":"Timeout rpc has been reached for L"}}` {
		t.Errorf("rpc timeout: %s %v", reply(t, r), err)
	}
}

// The slave disappears (process killed) and returns on the same port:
// the device goes offline, then online again, without a restart.
func TestSlaveDisappearsAndReturns(t *testing.T) {
	p := startLibmodbus(t, "tcp", "0")
	port := p.port
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{lmbDevice(cfgMap{"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket"})}}})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitValue(t, sink, "hr3", int64(3))
	// The poller announces the device up after the poll that delivered
	// its data: the data can come first.
	waitFor(t, 10*time.Second, "a connect", func() bool { return len(sink.Connects()) > 0 })
	if got := sink.Connects(); !slices.Equal(got, []string{"L"}) {
		t.Fatalf("connects %v", got)
	}
	p.Kill()
	waitFor(t, 15*time.Second, "disconnect", func() bool { return len(sink.Disconnects()) == 1 })
	sink.Reset()
	startLibmodbus(t, "tcp", fmt.Sprint(port))
	waitValue(t, sink, "hr3", int64(3))
	waitFor(t, 10*time.Second, "a connect", func() bool { return len(sink.Connects()) > 0 })
	if got := sink.Connects(); !slices.Equal(got, []string{"L"}) {
		t.Fatalf("connects after return %v", got)
	}
}

// A device that never answers is reported offline once; nothing is sent.
func TestUnreachableDevice(t *testing.T) {
	port := drivertest.FreePort(t)
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{lmbDevice(cfgMap{"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket"})}}})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "disconnect", func() bool { return len(sink.Disconnects()) == 1 })
	time.Sleep(1200 * time.Millisecond) // two more attempts, which must not be announced again
	if len(sink.Disconnects()) != 1 || len(sink.Connects()) != 0 || len(sink.Data()) != 0 {
		t.Fatalf("disconnects %v connects %v data %d", sink.Disconnects(), sink.Connects(), len(sink.Data()))
	}
}

// waitFor polls cond until it holds or fails the test after timeout (for
// conditions the sink does not signal, such as connects).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
