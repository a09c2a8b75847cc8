package request

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// device is the HTTP server the tests poll: upstream sample's endpoints.
type device struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD path body"
	user     string
	pass     string
}

func (d *device) log(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.requests = append(d.requests, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	d.mu.Unlock()
}

func (d *device) seen(prefix string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, r := range d.requests {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// infoFrame is the /get_info body for the sample's custom converter.
func infoFrame() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b[0:], math.Float32bits(1234.5))
	binary.BigEndian.PutUint16(b[4:], 2550) // Flow 25.5
	t := int16(-1234)
	binary.BigEndian.PutUint16(b[8:], uint16(t)) // Temperature -12.34
	binary.BigEndian.PutUint16(b[12:], 10130)    // Pressure 101.3
	b[15] = 0b1010_0011                          // status 10, OUT2 1, OUT1 1
	return b
}

func newDevice(t *testing.T, user, pass string) *device {
	d := &device{user: user, pass: pass}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			d.log(r)
			if u, p, ok := r.BasicAuth(); d.user != "" && (!ok || u != d.user || p != d.pass) {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("/getdata", auth(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"serial":"S-1","Developer":"Alice","hum":42}`)
	}))
	mux.HandleFunc("/get_info", auth(func(w http.ResponseWriter, r *http.Request) {
		w.Write(infoFrame())
	}))
	mux.HandleFunc("/devices", auth(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"id":1,"type":"UMG604","serialNr":"A1","name":"one","description":"first"},
			{"id":2,"type":"UMG96","serialNr":"B2","name":"two","description":"second"}]`)
	}))
	mux.HandleFunc("/devices/{id}/hist/values/ActiveEnergy/SUM13/3600", auth(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("start") != "RELATIVE_-1HOUR" {
			http.Error(w, "bad query", 400)
			return
		}
		fmt.Fprintf(w, `{"values":[{"avg":%s500.0}]}`, r.PathValue("id"))
	}))
	mux.HandleFunc("/sensor/", func(w http.ResponseWriter, r *http.Request) {
		d.log(r)
		fmt.Fprint(w, `{"temp":21.5,"ok":true}`)
	})
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

// sampleFor returns upstream's request.json with host pointing at d.
func sampleFor(t testing.TB, host string) []byte {
	b, err := os.ReadFile("testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.Replace(string(b), `"http://127.0.0.1:5000"`, `"`+host+`"`, 1))
}

func start(t *testing.T, cfg []byte, sink connector.Sink) *Connector {
	t.Helper()
	c, err := New(cfg, drivertest.Env(t, "Request", "request"))
	if err != nil {
		t.Fatal(err)
	}
	rc := c.(*Connector)
	drivertest.Run(t, rc, sink)
	deadline := time.Now().Add(5 * time.Second)
	for !rc.live.Load() {
		if time.Now().After(deadline) {
			t.Fatal("connector not live")
		}
		time.Sleep(time.Millisecond)
	}
	return rc
}

func TestSampleLoadsUnchanged(t *testing.T) {
	b, err := os.ReadFile("testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(b, drivertest.Env(t, "Request", "request"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.(*Connector).plan
	if len(p.endpoints) != 3 || len(p.attrs) != 1 || len(p.rpcs) != 2 {
		t.Fatalf("plan: %d endpoints, %d attribute updates, %d rpcs", len(p.endpoints), len(p.attrs), len(p.rpcs))
	}
	if p.endpoints[0].url != "http://127.0.0.1:5000/getdata" || p.endpoints[2].url != "http://127.0.0.1:5000/devices" {
		t.Fatalf("urls %q %q", p.endpoints[0].url, p.endpoints[2].url)
	}
}

func TestSampleEndToEnd(t *testing.T) {
	d := newDevice(t, "user", "password")
	sink := drivertest.NewSink()
	start(t, sampleFor(t, d.srv.URL), sink)

	sink.Wait(t, 5*time.Second, "all three endpoints", func(data []connector.Data) bool {
		_, a := drivertest.Latest(data, "SD8500", "combine", false)
		_, b := drivertest.Latest(data, "SD8500", "Totaliser", false)
		_, c := drivertest.Latest(data, "2-UMG96", "cumPwr", false)
		return a && b && c
	})
	want := []struct {
		dev, key string
		attr     bool
		v        any
	}{
		{"SD8500", "serialNumber", true, "S-1"},
		{"SD8500", "Maintainer", false, "Alice"},
		{"SD8500", "combine", false, "Alice:42"},
		{"SD8500", "Totaliser", false, 1234.5},
		{"SD8500", "Flow", false, 25.5},
		{"SD8500", "Temperature", false, -12.34},
		{"SD8500", "Pressure", false, 101.3},
		{"SD8500", "deviceStatus", false, int64(10)},
		{"SD8500", "OUT2", false, int64(1)},
		{"SD8500", "OUT1", false, int64(1)},
		{"1-UMG604", "id", true, int64(1)},
		{"1-UMG604", "description", true, "first"},
		{"1-UMG604", "cumPwr", false, 1.5},
		{"2-UMG96", "cumPwr", false, 2.5},
		{"2-UMG96", "serialNr", true, "B2"},
	}
	for _, w := range want {
		got, ok := sink.Latest(w.dev, w.key, w.attr)
		if f, isF := got.(float64); isF {
			if wf, _ := w.v.(float64); math.Abs(f-wf) < 1e-6 {
				continue
			}
		}
		if !ok || got != w.v {
			t.Errorf("%s %s = %#v (%v), want %#v", w.dev, w.key, got, ok, w.v)
		}
	}
	for _, data := range sink.Data() {
		if data.Device == "SD8500" && data.Type != "SD" {
			t.Errorf("type %q", data.Type)
		}
	}
}

func TestAuthRejected(t *testing.T) {
	d := newDevice(t, "user", "other")
	sink := drivertest.NewSink()
	c := start(t, sampleFor(t, d.srv.URL), sink)
	waitFor(t, "failed polls", func() bool { return c.pollErrors.Load() >= 3 })
	if n := len(sink.Data()); n != 0 {
		t.Fatalf("%d items sent from rejected polls", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestAttributeUpdateAndRPC(t *testing.T) {
	d := newDevice(t, "", "")
	sink := drivertest.NewSink()
	c := start(t, sampleFor(t, d.srv.URL), sink)
	ctx := context.Background()

	if err := c.OnAttributes(ctx, "SD8500", map[string]any{"send_data": 6.6, "other": 1}); err != nil {
		t.Fatal(err)
	}
	if got := d.seen("POST /sensor/SD8500/send_data"); len(got) != 1 || !strings.HasSuffix(got[0], ` {"send_data":"6.6"}`) {
		t.Fatalf("attribute update requests: %q", got)
	}
	// A device the filter does not match gets nothing.
	if err := c.OnAttributes(ctx, "XY1", map[string]any{"send_data": 1}); err != nil {
		t.Fatal(err)
	}
	if got := d.seen("POST /sensor/XY1"); len(got) != 0 {
		t.Fatalf("unexpected %q", got)
	}

	r, err := c.OnRPC(ctx, connector.RPC{Device: "SD 1", ID: 7, Method: "echo", Params: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, r); got != `{"result":{"value":"21.5"}}` {
		t.Fatalf("echo reply %s", got)
	}
	if got := d.seen("GET /sensor/SD%201/request/echo/7"); len(got) != 1 {
		t.Fatalf("echo requests %q", d.seen("GET"))
	}

	r, err = c.OnRPC(ctx, connector.RPC{Device: "D", ID: 8, Method: "no-reply", Params: json.RawMessage(`{"x":[1,2]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, r); got != `{"result":{"value":{"temp":21.5,"ok":true}}}` {
		t.Fatalf("no-reply reply %s", got)
	}
	if got := d.seen("POST /sensor/D/request/no-reply/8"); len(got) != 1 || !strings.HasSuffix(got[0], ` {"x":[1,2]}`) {
		t.Fatalf("no-reply requests %q", got)
	}

	if _, err := c.OnRPC(ctx, connector.RPC{Device: "D", ID: 9, Method: "unknown", Params: json.RawMessage(`null`)}); err == nil {
		t.Fatal("unknown method: no error")
	}

	// Reserved set and get.
	params, _ := json.Marshal("url=" + d.srv.URL + "/sensor/x/set;HTTPMethod=PUT;value=42;")
	r, err = c.OnRPC(ctx, connector.RPC{Device: "D", ID: 10, Method: "set", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.seen("PUT /sensor/x/set 42"); len(got) != 1 {
		t.Fatalf("reserved set: %q, reply %s", d.seen("PUT"), mustJSON(t, r))
	}
	params, _ = json.Marshal("url=/sensor/y/get;responseValueExpression=${temp};")
	r, err = c.OnRPC(ctx, connector.RPC{Device: "D", ID: 11, Method: "get", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, r); got != `{"result":{"value":"21.5"}}` {
		t.Fatalf("reserved get reply %s", got)
	}
	params, _ = json.Marshal("HTTPMethod=GET;")
	r, _ = c.OnRPC(ctx, connector.RPC{Device: "D", ID: 12, Method: "get", Params: params})
	if got := mustJSON(t, r); !strings.Contains(got, `"error":"please check your RPC params`) {
		t.Fatalf("reserved get without url: %s", got)
	}

	// Connector RPC.
	r, err = c.OnRPC(ctx, connector.RPC{Method: "get", ID: 13, Params: json.RawMessage(`{"requestUrlExpression":"sensor/c","httpMethod":"GET"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, r); got != `[{"result":{"temp":21.5,"ok":true},"status":200,"success":true}]` {
		t.Fatalf("connector rpc reply %s", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const oneEndpoint = `{
  "host": %q, "SSLVerify": %s %s,
  "mapping": [{"url": %q, "timeout": %s, "scanPeriod": 0.05, "allowRedirects": %s,
    "converter": {"type": "json", "deviceNameJsonExpression": "${name}", "deviceTypeJsonExpression": "T",
      "attributes": [], "telemetry": [{"key": "v", "type": "int", "value": "${v}"}]}}]
}`

func endpointConfig(host, url string, extra ...string) []byte {
	verify, sec, timeout, redirects := "true", "", "1", "false"
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		switch k {
		case "verify":
			verify = v
		case "security":
			sec = v
		case "timeout":
			timeout = v
		case "redirects":
			redirects = v
		}
	}
	return fmt.Appendf(nil, oneEndpoint, host, verify, sec, url, timeout, redirects)
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"name":"tls","v":1}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	t.Cleanup(srv.Close)
	// Unknown authority: verified by default, so polls fail.
	sink := drivertest.NewSink()
	c := start(t, endpointConfig(srv.URL, "/x"), sink)
	waitFor(t, "failed TLS polls", func() bool { return c.pollErrors.Load() >= 2 })
	if len(sink.Data()) != 0 {
		t.Fatal("data through an unverified server")
	}
	// With the CA configured.
	ca := t.TempDir() + "/ca.pem"
	writeCert(t, ca, srv)
	sink2 := drivertest.NewSink()
	start(t, endpointConfig(srv.URL, "/x", `security=,"security":{"type":"anonymous","caCert":"`+ca+`"}`), sink2)
	sink2.Wait(t, 5*time.Second, "data over verified TLS", func(data []connector.Data) bool { return len(data) > 0 })
	// SSLVerify false.
	sink3 := drivertest.NewSink()
	start(t, endpointConfig(srv.URL, "/x", "verify=false"), sink3)
	sink3.Wait(t, 5*time.Second, "data over unverified TLS", func(data []connector.Data) bool { return len(data) > 0 })
	// A server offering HTTP/2 is still spoken to in HTTP/1.1.
	var proto atomic.Value
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		fmt.Fprint(w, `{"name":"h2","v":1}`)
	}))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	sink4 := drivertest.NewSink()
	start(t, endpointConfig(h2.URL, "/x", "verify=false"), sink4)
	sink4.Wait(t, 5*time.Second, "data from the HTTP/2 server", func(data []connector.Data) bool { return len(data) > 0 })
	if p, _ := proto.Load().(string); p != "HTTP/1.1" {
		t.Errorf("request made in %q, want HTTP/1.1", p)
	}
}

func TestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"moved","v":2}`) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	sink := drivertest.NewSink()
	start(t, endpointConfig(srv.URL, "old", "redirects=true"), sink)
	sink.Wait(t, 5*time.Second, "redirected data", func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, "moved", "v", false)
		return ok && v == int64(2)
	})
	sink2 := drivertest.NewSink()
	c := start(t, endpointConfig(srv.URL, "old"), sink2)
	waitFor(t, "302 counted as failure", func() bool { return c.pollErrors.Load() >= 2 })
	if len(sink2.Data()) != 0 {
		t.Fatal("redirect followed although allowRedirects is false")
	}
}

// TestSlowServer: a server slower than the timeout makes polls fail, and
// polls of one endpoint never overlap.
func TestSlowServer(t *testing.T) {
	var inFlight, maxInFlight, served atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		served.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	sink := drivertest.NewSink()
	c := start(t, endpointConfig(srv.URL, "/slow", "timeout=0.1"), sink)
	waitFor(t, "timeouts", func() bool { return c.pollErrors.Load() >= 2 })
	if m := maxInFlight.Load(); m > 1 {
		t.Fatalf("%d polls of one endpoint in flight at once", m)
	}
}

func TestServerErrorsAndBadJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"x","v":`) })
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `not json at all`) })
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"x","v":7}`) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var maps []string
	for _, p := range []string{"/500", "/truncated", "/text", "/good"} {
		maps = append(maps, fmt.Sprintf(`{"url":%q,"scanPeriod":0.05,"converter":{"type":"json","deviceNameJsonExpression":"${name}",
		  "telemetry":[{"key":"v","type":"int","value":"${v}"}]}}`, p))
	}
	sink := drivertest.NewSink()
	c := start(t, []byte(fmt.Sprintf(`{"host":%q,"mapping":[%s]}`, srv.URL, strings.Join(maps, ","))), sink)
	sink.Wait(t, 5*time.Second, "good answers next to bad ones", func(data []connector.Data) bool { return len(data) >= 3 })
	waitFor(t, "three failures", func() bool { return c.pollErrors.Load() >= 3 })
	for _, d := range sink.Data() {
		if v, _ := drivertest.Latest([]connector.Data{d}, "x", "v", false); v != int64(7) {
			t.Fatalf("unexpected data %+v", d)
		}
	}
}

func TestResponseTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"name":"big","v":1,"pad":"%s"}`, strings.Repeat("x", 4096))
	}))
	t.Cleanup(srv.Close)
	cfg := strings.Replace(string(endpointConfig(srv.URL, "/x")), `"host"`, `"maxResponseSize": 1024, "host"`, 1)
	sink := drivertest.NewSink()
	c := start(t, []byte(cfg), sink)
	waitFor(t, "oversized answers refused", func() bool { return c.pollErrors.Load() >= 2 })
	if len(sink.Data()) != 0 {
		t.Fatal("oversized answer converted")
	}
}

func TestBadConfigs(t *testing.T) {
	for name, cfg := range map[string]string{
		"no host":         `{"mapping":[{"url":"x","converter":{"type":"json"}}]}`,
		"bad scanPeriod":  `{"host":"h","mapping":[{"url":"x","scanPeriod":0,"converter":{"type":"json","deviceNameJsonExpression":"d"}}]}`,
		"bad method":      `{"host":"h","mapping":[{"url":"x","httpMethod":"FETCH","converter":{"type":"json","deviceNameJsonExpression":"d"}}]}`,
		"bad filter":      `{"host":"h","attributeUpdates":[{"deviceNameFilter":"(","attributeFilter":".*","requestUrlExpression":"x"}]}`,
		"python function": `{"host":"h","mapping":[{"url":"x","subRequests":{"k":{"url":"y","processingFunction":"import os"}},"converter":{"type":"json","deviceNameJsonExpression":"d"}}]}`,
		"bad unpack":      `{"host":"h","mapping":[{"url":"x","dataUnpackExpression":"a[","converter":{"type":"json","deviceNameJsonExpression":"d"}}]}`,
		"bad custom":      `{"host":"h","mapping":[{"url":"x","converter":{"type":"custom","extension":"CustomRequestUplinkConverter","deviceNameJsonExpression":"d","extension-config":[{"key":"k","type":"float","fromByte":0,"toByte":3}]}}]}`,
	} {
		if _, err := New([]byte(cfg), drivertest.Env(t, "Request", "request")); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "Request.json:") {
			t.Errorf("%s: error without position: %v", name, err)
		}
	}
}
