package modbus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// upstream's tests/blackbox Modbus cases, ported as data
// (testdata/upstream/blackbox): the connector configuration a case pushes,
// what it does (read telemetry, call RPCs, update shared attributes) and
// the values upstream's test expects back, replayed against pymodbus
// holding the registers of upstream's test server (server.json).
type blackboxCase struct {
	Upstream struct {
		Test, Config, Values string
	} `json:"upstream"`
	Kind     string                     `json:"kind"`
	Slave    map[string]any             `json:"slave"`
	Expected map[string]json.RawMessage `json:"expected"`
	// Differences: keys where tbgw deliberately answers otherwise (or
	// where upstream's vector is stale), with what tbgw gives and why.
	Differences map[string]struct {
		Tbgw json.RawMessage `json:"tbgw"`
		Why  string          `json:"why"`
	} `json:"differences"`
	// NotApplicable: why the read-back of this case cannot mean anything
	// against a standard Modbus server; its writes still run and must be
	// accepted.
	NotApplicable string `json:"notApplicable"`
}

type blackboxServer struct {
	Unit      int    `json:"unit"`
	Registers []int  `json:"registers"`
	Bits      []bool `json:"bits"`
}

func loadJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestUpstreamBlackbox(t *testing.T) {
	dir := filepath.Join("testdata", "upstream", "blackbox")
	var srv blackboxServer
	var about struct {
		About string `json:"about"`
		blackboxServer
	}
	loadJSON(t, filepath.Join(dir, "server.json"), &about)
	srv = about.blackboxServer
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "server.json" {
			continue
		}
		n++
		var c blackboxCase
		loadJSON(t, f, &c)
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			runBlackbox(t, srv, c)
		})
	}
	if n < 32 {
		t.Fatalf("%d blackbox cases, want the 32 of upstream's modbus tests", n)
	}
}

func runBlackbox(t *testing.T, srv blackboxServer, c blackboxCase) {
	port := drivertest.FreePort(t)
	p := startPymodbus(t, "tcp", "127.0.0.1", port, cfgMap{"units": []int{srv.Unit}, "shared": true, "size": 100,
		"bits": []any{cfgMap{"table": "co", "address": 0, "values": srv.Bits}}})
	p.cmd(cfgMap{"cmd": "set", "table": "hr", "address": 0, "values": srv.Registers, "unit": srv.Unit})

	slave := map[string]any{}
	for k, v := range c.Slave {
		slave[k] = v
	}
	slave["host"], slave["port"], slave["type"], slave["method"] = "127.0.0.1", port, "tcp", "socket"
	// Upstream polls every second; a fifth keeps the run short and reads
	// the same registers.
	slave["pollPeriod"] = 200
	dev, _ := slave["deviceName"].(string)
	rpcs, _ := slave["rpc"].([]any)
	con := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{slave}}})
	sink := drivertest.NewSink()
	drivertest.Run(t, con, sink)
	ctx := context.Background()

	want := func(key string) json.RawMessage {
		if d, ok := c.Differences[key]; ok {
			if d.Why == "" {
				t.Fatalf("difference for %q without a reason", key)
			}
			return d.Tbgw
		}
		return c.Expected[key]
	}
	keys := make([]string, 0, len(c.Expected))
	for k := range c.Expected {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	// telemetry waits until every expected key reads what upstream's
	// ThingsBoard showed (values compared as ThingsBoard stores them).
	telemetry := func(what string) {
		if c.NotApplicable != "" {
			t.Logf("read-back not applicable: %s", c.NotApplicable)
			return
		}
		var last string
		ok := false
		deadline := time.Now().Add(20 * time.Second)
		for !ok && time.Now().Before(deadline) {
			sink.WaitChange(500 * time.Millisecond)
			ok, last = true, ""
			for _, k := range keys {
				v, found := sink.Latest(dev, k, false)
				if !found {
					ok, last = false, last+fmt.Sprintf("\n  %s: not sent", k)
					continue
				}
				if err := drivertest.SameStored(tbjson.AppendValue(nil, v), want(k)); err != nil {
					ok, last = false, last+fmt.Sprintf("\n  %s: %v", k, err)
				}
			}
		}
		if !ok {
			t.Fatalf("%s (upstream %s):%s", what, c.Upstream.Test, last)
		}
	}

	switch c.Kind {
	case "uplink":
		telemetry("telemetry")
	case "rpc_read":
		for _, r := range rpcs {
			params := map[string]any{}
			for k, v := range r.(map[string]any) {
				params[k] = v
			}
			tag := params["tag"].(string)
			delete(params, "tag")
			raw, _ := json.Marshal(params)
			res, err := con.OnRPC(ctx, connector.RPC{Device: dev, Method: tag, Params: raw, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("rpc %s: %v", tag, err)
			}
			got, err := tbjson.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			w := []byte(fmt.Sprintf(`{"result":{"value":%s}}`, want(tag)))
			if err := drivertest.SameJSON(got, w); err != nil {
				t.Errorf("rpc %s: got %s, want %s: %v", tag, got, w, err)
			}
		}
	case "rpc_write":
		for _, r := range rpcs {
			tag := r.(map[string]any)["tag"].(string)
			res, err := con.OnRPC(ctx, connector.RPC{Device: dev, Method: tag, Params: c.Expected[tag], Timeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("rpc %s %s: %v", tag, c.Expected[tag], err)
			}
			if b, _ := tbjson.Marshal(res); bytes.Contains(b, []byte(`"error"`)) {
				t.Fatalf("rpc %s %s: %s", tag, c.Expected[tag], b)
			}
		}
		telemetry("telemetry after the RPC writes")
	case "attribute_update":
		vals := map[string]any{}
		for _, k := range keys {
			v := gatewayValue(t, c.Expected[k])
			if s, ok := v.(string); ok && k != "string" {
				// Upstream's test sets the attribute from its values file,
				// where most numbers are written as strings.
				if json.Valid([]byte(s)) {
					v = gatewayValue(t, []byte(s))
				}
			}
			vals[k] = v
		}
		if err := con.OnAttributes(ctx, dev, vals); err != nil {
			t.Fatalf("attribute update: %v", err)
		}
		telemetry("telemetry after the attribute update")
	default:
		t.Fatalf("unknown kind %q", c.Kind)
	}
}

// gatewayValue decodes a value as the gateway hands attribute updates to
// connectors (connector.DecodeExact): float64 numbers, except integers
// beyond 2^53, which stay json.Number so that they keep every digit.
func gatewayValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := connector.DecodeExact(b, &v); err != nil {
		t.Fatal(err)
	}
	return connector.Exact(v)
}
