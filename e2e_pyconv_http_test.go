package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// httpRecorder is the HTTP device: it records each request as
// "METHOD path body" and answers {"ok": true}.
func httpRecorder(t *testing.T) (*httptest.Server, chan string) {
	t.Helper()
	calls := make(chan string, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case calls <- r.Method + " " + r.URL.EscapedPath() + " " + string(body):
		default:
		}
		if r.URL.Path == "/getdata" {
			fmt.Fprint(w, `{"hum": 41}`)
			return
		}
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

// nextCall waits for the device's next request other than polling.
func nextCall(t *testing.T, calls chan string, what string) string {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for {
		select {
		case c := <-calls:
			if !strings.HasPrefix(c, "GET /getdata") {
				return c
			}
		case <-timer.C:
			t.Fatalf("the device got no request for %s", what)
			return ""
		}
	}
}

// A REST connector's attributeUpdates and serverSideRpc entries whose
// "extension" names an upstream-style Python downlink converter: the
// class makes the request (URL, body and, for the RPC, the method).
func TestE2ERESTPythonDownlinkConverter(t *testing.T) {
	pyconvEnv(t)
	dev, calls := httpRecorder(t)
	_, port := freeAddr(t, "tcp")
	tb := pyconvGateway(t, "rest", map[string]any{
		"host": "127.0.0.1", "port": port,
		"mapping": []any{map[string]any{"endpoint": "/up", "HTTPMethods": []string{"POST"},
			"security": map[string]any{"type": "anonymous"},
			"converter": map[string]any{"type": "json", "deviceNameExpression": "Py REST", "deviceTypeExpression": "default",
				"timeseries": []any{map[string]any{"type": "int", "key": "t", "value": "${t}"}}}}},
		"requestsMapping": map[string]any{
			"attributeUpdates": []any{map[string]any{"HTTPMethod": "POST", "deviceNameFilter": "Py.*", "attributeFilter": "fw",
				"requestUrlExpression": dev.URL + "/dev/${deviceName}", "valueExpression": "unused",
				"extension": "DemoRestDownlinkConverter", "demoTag": "from-python"}},
			"serverSideRpc": []any{map[string]any{"HTTPMethod": "GET", "deviceNameFilter": ".*", "methodFilter": "reboot",
				"requestUrlExpression": dev.URL + "/dev/${deviceName}", "responseTimeout": 5, "timeout": 5,
				"extension": "DemoRestDownlinkConverter"}},
		},
	})
	// The device posts until the server is up, so that the gateway knows it.
	tb.Wait(20*time.Second, "the device's post", func() bool {
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/up", port), "application/json", strings.NewReader(`{"t": 5}`))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200 && tb.Await(500*time.Millisecond, func() bool {
			v, ok := tb.Latest("Py REST", "t")
			return ok && v == 5.0
		})
	})

	tb.SetAttributes("Py REST", map[string]any{"fw": 21})
	if c := nextCall(t, calls, "the attribute update"); c != `POST /dev/Py%20REST/fw {"key": "fw", "value": 42, "by": "from-python"}` {
		t.Fatalf("attribute update: %q", c)
	}
	reply, err := tb.RPC("Py REST", "reboot", map[string]any{"delay": 3}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"result":{"ok":true}}`)
	if c := nextCall(t, calls, "the RPC"); !strings.HasPrefix(c, `PUT /dev/Py%20REST/rpc/reboot {"id": `) || !strings.HasSuffix(c, `"params": {"delay": 3}, "by": "python"}`) {
		t.Fatalf("RPC: %q", c)
	}
}

// A Request connector's attributeUpdates and serverSideRpc entries whose
// "converter" names an upstream-style Python downlink converter.
func TestE2ERequestPythonDownlinkConverter(t *testing.T) {
	pyconvEnv(t)
	dev, calls := httpRecorder(t)
	tb := pyconvGateway(t, "request", map[string]any{
		"host": dev.URL,
		"mapping": []any{map[string]any{"url": "getdata", "httpMethod": "GET", "scanPeriod": 0.2, "timeout": 2,
			"converter": map[string]any{"type": "json", "deviceNameJsonExpression": "Py Request", "deviceTypeJsonExpression": "default",
				"telemetry": []any{map[string]any{"key": "hum", "type": "int", "value": "${hum}"}}}}},
		"attributeUpdates": []any{map[string]any{"httpMethod": "POST", "deviceNameFilter": ".*", "attributeFilter": "mode",
			"requestUrlExpression": "unused", "requestValueExpression": "unused", "converter": "DemoRequestDownlinkConverter"}},
		"serverSideRpc": []any{map[string]any{"httpMethod": "POST", "deviceNameFilter": ".*", "methodFilter": "echo",
			"requestUrlExpression": "unused", "responseTimeout": 5, "timeout": 5, "converter": "DemoRequestDownlinkConverter"}},
	})
	tb.WaitTelemetry("Py Request", "hum", func(v any) bool { return v == 41.0 }, 20*time.Second)

	tb.SetAttributes("Py Request", map[string]any{"mode": "eco"})
	if c := nextCall(t, calls, "the attribute update"); c != `POST /py/Py%20Request/attr/mode {"value":"eco","upper":"ECO"}` {
		t.Fatalf("attribute update: %q", c)
	}
	reply, err := tb.RPC("Py Request", "echo", map[string]any{"a": []int{1, 2}}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"result":{"value":{"ok":true}}}`)
	if c := nextCall(t, calls, "the RPC"); !strings.HasPrefix(c, `POST /py/Py%20Request/rpc/echo/`) || !strings.HasSuffix(c, ` {"a": [1, 2]}`) {
		t.Fatalf("RPC: %q", c)
	}
}
