package knx

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// sample returns upstream's knx.json with edit applied.
func sample(t testing.TB, edit func(client map[string]any, m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/knx.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m["client"].(map[string]any), m)
	}
	out, _ := json.Marshal(m)
	return out
}

func startConn(t *testing.T, cfg []byte, sink *drivertest.Sink) *Connector {
	t.Helper()
	c, err := New(cfg, drivertest.Env(t, "KNX", "knx"))
	if err != nil {
		t.Fatal(err)
	}
	drivertest.Run(t, c, sink)
	return c.(*Connector)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func latest(sink *drivertest.Sink, dev, key string, attr bool) string {
	v, ok := sink.Latest(dev, key, attr)
	if !ok {
		return "<none>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func callRPC(t *testing.T, c *Connector, device, method string, params any) (string, error) {
	t.Helper()
	p, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.OnRPC(ctx, connector.RPC{Device: device, Method: method, Params: p, Timeout: 10 * time.Second})
	b, _ := json.Marshal(res)
	return string(b), err
}

// TestBus runs upstream's sample against knxd over a tunnel, then as a
// routing participant, with knxtool as the independent device, sender and
// bus monitor.
func TestBus(t *testing.T) {
	if !inNetns(t) {
		return
	}
	r := newRig(t)
	r.answer("1/0/5", stringHex("Kitchen"), false)
	r.answer("1/0/6", "0c 33", false) // 21.5 °C
	r.answer("1/0/7", "14 6a", false) // 45.2 %
	const dev = "Device Kitchen"

	t.Run("Tunnelling", func(t *testing.T) {
		sink := drivertest.NewSink()
		c := startConn(t, sample(t, func(cl, _ map[string]any) { cl["gatewayIP"] = knxdIP }), sink)
		waitFor(t, "polled values", func() bool {
			return latest(sink, dev, "temperature", true) == "21.5" && latest(sink, dev, "humidity", false) == "45.2"
		})
		// A telegram between polls arrives at once.
		r.tool("groupwrite", "1/0/7", "0c", "e2") // 25
		waitFor(t, "telegram", func() bool { return latest(sink, dev, "humidity", false) == "25" })

		if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": 80}); err != nil {
			t.Fatal(err)
		}
		r.seen("brightness write", "to 1/0/9", "A_GroupValue_Write 50")
		if res, err := callRPC(t, c, dev, "get_name", nil); err != nil || res != `{"result":{"value":"Kitchen"}}` {
			t.Errorf("get_name: %s %v", res, err)
		}
		if res, err := callRPC(t, c, dev, "set_name", "Hall"); err != nil || res != `{"result":{"value":"Hall"}}` {
			t.Errorf("set_name: %s %v", res, err)
		}
		r.seen("name write", "to 1/0/5", "A_GroupValue_Write 48 61 6C 6C 00")
		if res, err := callRPC(t, c, dev, "get", "groupAddress=1/0/6;dataType=temperature;"); err != nil || res != `{"result":{"value":21.5}}` {
			t.Errorf("get: %s %v", res, err)
		}
		if _, err := callRPC(t, c, dev, "set", "groupAddress=1/1/1;dataType=switch;value=1;"); err != nil {
			t.Error(err)
		}
		r.seen("switch write", "to 1/1/1", "A_GroupValue_Write (small) 01")
		if _, err := callRPC(t, c, dev, "set", "groupAddress=1/1/2;dataType=temperature;value=-30;"); err != nil {
			t.Error(err)
		}
		r.seen("temperature write", "to 1/1/2", "A_GroupValue_Write 8A 24")
		if _, err := callRPC(t, c, dev, "get", "groupAddress=1/1/3;dataType=temperature;"); err == nil {
			t.Error("a read nobody answers succeeded")
		}
		if _, err := callRPC(t, c, dev, "unknown", nil); err == nil {
			t.Error("unknown method accepted")
		}

		// Throughput of acknowledged, confirmed writes through the tunnel.
		const writes = 200
		start := time.Now()
		for i := range writes {
			if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": i % 256}); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%d tunnelled writes in %v: %.0f telegrams/s (each waits for ACK and L_Data.con)",
			writes, time.Since(start).Round(time.Millisecond), writes/time.Since(start).Seconds())

		// knxd restarts: the tunnel is re-established.
		r.stopKnxd()
		waitFor(t, "link loss", func() bool { return c.Stats()["busConnected"] == 0 })
		r.startKnxd()
		waitFor(t, "reconnect", func() bool { return c.Stats()["busConnected"] == 1 })
		if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": 20}); err != nil {
			t.Fatal(err)
		}
		r.seen("write after restart", "to 1/0/9", "A_GroupValue_Write 14")
		if st := c.Stats(); st["reconnects"] < 1 || st["telegramsSent"] < 10 {
			t.Errorf("stats %v", st)
		}
	})

	t.Run("Search", func(t *testing.T) {
		// No gateway configured: AUTOMATIC finds knxd by a multicast
		// search and tunnels to it.
		sink := drivertest.NewSink()
		c := startConn(t, sample(t, func(cl, _ map[string]any) {
			delete(cl, "gatewayIP")
			cl["gatewaysScanner"] = map[string]any{"enabled": true, "scanPeriod": 1, "stopOnFound": true}
		}), sink)
		waitFor(t, "polled values", func() bool { return latest(sink, dev, "temperature", true) == "21.5" })
		if l := c.bus.link(); l == nil || !strings.Contains(l.String(), "tunnel to "+knxdIP+":3671") {
			t.Errorf("link %v", l)
		}
	})

	t.Run("Routing", func(t *testing.T) {
		sink := drivertest.NewSink()
		c := startConn(t, sample(t, func(cl, _ map[string]any) {
			cl["type"], cl["localIp"] = "ROUTING", peerIP
		}), sink)
		waitFor(t, "polled values", func() bool {
			return latest(sink, dev, "temperature", true) == "21.5"
		})
		r.tool("groupwrite", "1/0/6", "0c", "e2") // 25
		waitFor(t, "telegram", func() bool { return latest(sink, dev, "temperature", true) == "25" })
		if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": 33}); err != nil {
			t.Fatal(err)
		}
		r.seen("routed write", "from 1.0.10 to 1/0/9", "A_GroupValue_Write 21")
	})
}
