package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func sample(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/rest.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// onPort0 makes a configuration listen on a random port.
func onPort0(b []byte) []byte {
	return []byte(strings.Replace(string(b), `"port": "5000"`, `"port": "0"`, 1))
}

func start(t *testing.T, cfg []byte, sink connector.Sink) (*Connector, string) {
	t.Helper()
	c, err := New(cfg, drivertest.Env(t, "REST", "rest"))
	if err != nil {
		t.Fatal(err)
	}
	rc := c.(*Connector)
	drivertest.Run(t, rc, sink)
	deadline := time.Now().Add(5 * time.Second)
	for rc.ListenAddr() == "" || !rc.live.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not listening")
		}
		time.Sleep(time.Millisecond)
	}
	return rc, rc.ListenAddr()
}

func do(t *testing.T, method, url, ctype, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSampleLoadsUnchanged(t *testing.T) {
	c, err := New(sample(t), drivertest.Env(t, "REST", "rest"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.(*Connector).plan
	if p.addr != "127.0.0.1:5000" || p.tls || len(p.routes) != 4 || len(p.attrs) != 2 || len(p.rpcs) != 3 {
		t.Fatalf("plan: %s tls=%v %d routes %d attrs %d rpcs", p.addr, p.tls, len(p.routes), len(p.attrs), len(p.rpcs))
	}
}

func TestSampleEndpoints(t *testing.T) {
	sink := drivertest.NewSink()
	sink.Attrs["SN-7"] = map[string]any{"fw": "1.2", "hw": 3}
	_, addr := start(t, onPort0(sample(t)), sink)
	base := "http://" + addr

	code, _ := do(t, "POST", base+"/my_devices", "application/json",
		`{"sensorName":"SN-7","sensorType":"Thermo","sensorModel":"T1","certificateNumber":"C9","temp":21.5,"hum":"40"}`)
	if code != 200 {
		t.Fatalf("my_devices: %d", code)
	}
	code, _ = do(t, "GET", base+"/anon1?temp=5&hum=6", "", "")
	if code != 200 {
		t.Fatalf("anon1 GET: %d", code)
	}
	frame := make([]byte, 4)
	binary.BigEndian.PutUint32(frame, math.Float32bits(99.5))
	code, _ = do(t, "POST", base+"/anon2", "application/octet-stream", string(frame))
	if code != 200 {
		t.Fatalf("anon2: %d", code)
	}
	checks := []struct {
		dev, key string
		attr     bool
		v        any
	}{
		{"SN-7", "model", true, "T1"},
		{"SN-7", "certificateNumber", true, "C9"},
		{"SN-7", "temperature", false, 21.5},
		{"SN-7", "humidity", false, 40.0},
		{"Device 2", "model", true, "Model2"},
		{"Device 2", "temperature", false, 5.0},
		{"Device 2", "humidity", false, 6.0},
		{"SuperAnonDevice", "Totaliser", false, 99.5},
	}
	for _, c := range checks {
		if got, ok := sink.Latest(c.dev, c.key, c.attr); !ok || got != c.v {
			t.Errorf("%s %s = %#v, want %#v", c.dev, c.key, got, c.v)
		}
	}
	for _, d := range sink.Data() {
		if d.Device == "SN-7" && d.Type != "Thermo" {
			t.Errorf("profile %q", d.Type)
		}
	}

	// Attribute request endpoint: names from ${attribute}${attribute1}.
	code, body := do(t, "POST", base+"/sharedAttributes", "application/json", `{"deviceName":"SN-7","attribute":"fw"}`)
	if code != 200 || body != `{"device":"SN-7","value":"1.2"}` {
		t.Fatalf("shared attributes: %d %s", code, body)
	}
	code, body = do(t, "POST", base+"/sharedAttributes", "application/json", `{"deviceName":"SN-7","attribute":"fw","attribute1":"hw"}`)
	if code != 200 || body != `{"device":"SN-7","values":{"fw":"1.2","hw":3}}` {
		t.Fatalf("shared attributes: %d %s", code, body)
	}

	// Upstream's status codes.
	if code, _ := do(t, "GET", base+"/my_devices", "", ""); code != 405 {
		t.Errorf("GET on a POST endpoint: %d", code)
	}
	if code, _ := do(t, "POST", base+"/my_devices", "application/json", ""); code != 415 {
		t.Errorf("no data: %d", code)
	}
	if code, _ := do(t, "POST", base+"/nowhere", "application/json", "{}"); code != 404 {
		t.Errorf("unknown endpoint: %d", code)
	}
}

func TestBodyShapes(t *testing.T) {
	cfg := `{"server":{"host":"127.0.0.1","port":0},"mapping":[{"endpoint":"/d/{dev}","HTTPMethods":["POST"],
	  "converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"request","deviceNameExpression":"${dev}"},
	  "attributes":[],"timeseries":[{"type":"string","key":"t","value":"${t}"},{"type":"string","key":"text","value":"${text}"}]}}]}`
	sink := drivertest.NewSink()
	_, addr := start(t, []byte(cfg), sink)
	base := "http://" + addr
	cases := []struct {
		path, ctype, body string
		dev, key, want    string
	}{
		{"/d/a", "application/json", `{"t":"json"}`, "a", "t", "json"},
		{"/d/b", "application/x-www-form-urlencoded", `t=form&x=1`, "b", "t", "form"},
		{"/d/c", "text/plain", `hello there`, "c", "text", "hello there"},
		{"/d/d?t=query", "application/json", `{"t":"body"}`, "d", "t", "query"},
		{"/d/e", "application/json", `[{"t":"one"},{"t":"two","dev":"f"}]`, "f", "t", "two"},
	}
	for _, c := range cases {
		if code, _ := do(t, "POST", base+c.path, c.ctype, c.body); code != 200 {
			t.Errorf("%s: %d", c.path, code)
			continue
		}
		if got, _ := sink.Latest(c.dev, c.key, false); got != c.want {
			t.Errorf("%s: %s %s = %#v, want %q", c.path, c.dev, c.key, got, c.want)
		}
	}
	if got, _ := sink.Latest("e", "t", false); got != "one" {
		t.Errorf("first array element: %#v", got)
	}
	// multipart: fields taken, files ignored.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("t", "multi")
	fw, _ := mw.CreateFormFile("file", "f.bin")
	fw.Write([]byte("ignored"))
	mw.Close()
	if code, _ := do(t, "POST", base+"/d/m", mw.FormDataContentType(), buf.String()); code != 200 {
		t.Fatalf("multipart: %d", code)
	}
	if got, _ := sink.Latest("m", "t", false); got != "multi" {
		t.Errorf("multipart: %#v", got)
	}
}

const basicCfg = `{"server":{"host":"127.0.0.1","port":0},"mapping":[{"endpoint":"/secure","HTTPMethods":["POST"],
  "security":{"type":"basic","username":"u","password":"p"},
  "response":{"successResponse":"OK","unsuccessfulResponse":"NO"},
  "converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"S"},
  "attributes":[],"timeseries":[{"type":"int","key":"v","value":"${v}"}]}}]}`

func TestBasicAuth(t *testing.T) {
	sink := drivertest.NewSink()
	_, addr := start(t, []byte(basicCfg), sink)
	url := "http://" + addr + "/secure"
	if code, body := do(t, "POST", url, "application/json", `{"v":1}`); code != 401 || body != "NO" {
		t.Errorf("no credentials: %d %q", code, body)
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"v":1}`))
	req.SetBasicAuth("u", "wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	if len(sink.Data()) != 0 {
		t.Fatal("data accepted without credentials")
	}
	req, _ = http.NewRequest("POST", url, strings.NewReader(`{"v":2}`))
	req.SetBasicAuth("u", "p")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "OK" {
		t.Fatalf("good credentials: %d %q", resp.StatusCode, b)
	}
	if v, _ := sink.Latest("S", "v", false); v != int64(2) {
		t.Fatalf("v = %#v", v)
	}
}

func TestStorageFull503(t *testing.T) {
	sink := drivertest.NewSink()
	sink.SendErr = connector.ErrStorageFull
	_, addr := start(t, []byte(basicCfg), sink)
	req, _ := http.NewRequest("POST", "http://"+addr+"/secure", strings.NewReader(`{"v":1}`))
	req.SetBasicAuth("u", "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("storage full: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

const expectCfg = `{"server":{"host":"127.0.0.1","port":0},"maxConcurrent":%d,"mapping":[{"endpoint":"/ask","HTTPMethods":["POST"],
  "response":{"responseExpected":true,"responseAttribute":"answer","timeout":%s,"unsuccessfulResponse":"late"},
  "converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"request","deviceNameExpression":"${name}"},
  "attributes":[],"timeseries":[{"type":"int","key":"v","value":"${v}"}]}}]}`

func TestResponseExpected(t *testing.T) {
	sink := drivertest.NewSink()
	c, addr := start(t, fmt.Appendf(nil, expectCfg, 64, "5"), sink)
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/ask", "application/json", strings.NewReader(`{"name":"Q1","v":3}`))
		if err != nil {
			done <- result{-1, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b)}
	}()
	sink.Wait(t, 5*time.Second, "the question", func(d []connector.Data) bool { return len(d) > 0 })
	if v, _ := sink.Latest("Q1", "responseExpected", true); v != true {
		t.Errorf("responseExpected attribute: %#v", v)
	}
	// An update of another device or key does not answer.
	if err := c.OnAttributes(context.Background(), "Q2", map[string]any{"answer": "wrong"}); err != nil {
		t.Fatal(err)
	}
	if err := c.OnAttributes(context.Background(), "Q1", map[string]any{"answer": map[string]any{"x": 1}}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 200 || r.body != `{"x":1}` {
		t.Fatalf("answer: %d %q", r.code, r.body)
	}
}

func TestResponseTimeoutAndBusy(t *testing.T) {
	sink := drivertest.NewSink()
	_, addr := start(t, fmt.Appendf(nil, expectCfg, 1, "0.3"), sink)
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/ask", "application/json", strings.NewReader(`{"name":"Q","v":1}`))
		if err != nil {
			first <- -1
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	sink.Wait(t, 5*time.Second, "the question", func(d []connector.Data) bool { return len(d) > 0 })
	// The only slot is taken: a second request is refused at once.
	if code, _ := do(t, "POST", "http://"+addr+"/ask", "application/json", `{"name":"Q","v":2}`); code != 503 {
		t.Errorf("busy: %d", code)
	}
	if code := <-first; code != 408 {
		t.Fatalf("unanswered: %d", code)
	}
}

// TestHugeBody: a 100 MB body is refused after maxBodySize, not read.
func TestHugeBody(t *testing.T) {
	sink := drivertest.NewSink()
	_, addr := start(t, []byte(strings.Replace(basicCfg, `"mapping"`, `"maxBodySize":65536,"mapping"`, 1)), sink)
	cr := &countingReader{left: 100 << 20}
	req, _ := http.NewRequest("POST", "http://"+addr+"/secure", cr)
	req.ContentLength = 100 << 20
	req.SetBasicAuth("u", "p")
	// Watch the heap while the body is refused.
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	resp, err := http.DefaultClient.Do(req)
	close(stop)
	<-watched
	if growth := int64(peak) - int64(base); growth > 16<<20 {
		t.Errorf("heap grew by %d MB while refusing a 100 MB body", growth>>20)
	}
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := cr.read(); n > 16<<20 {
		t.Fatalf("server consumed %d bytes of the body", n)
	}
	if len(sink.Data()) != 0 {
		t.Fatal("data from a refused body")
	}
}

type countingReader struct {
	mu   sync.Mutex
	left int
	n    int
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.left -= n
	r.n += n
	return n, nil
}

func (r *countingReader) read() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TestSlowloris: a client that never finishes its headers is cut off.
func TestSlowloris(t *testing.T) {
	sink := drivertest.NewSink()
	_, addr := start(t, []byte(strings.Replace(basicCfg, `"mapping"`, `"readTimeout":0.3,"mapping"`, 1)), sink)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /secure HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		// Drip a header line now and then; the server must hang up.
		if _, err := fmt.Fprint(conn, "X-A: b\r\n"); err != nil {
			break
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := conn.Read(buf)
		if err == io.EOF || (err != nil && !isTimeout(err)) {
			break
		}
		if err == nil {
			break // an error answer is fine too
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestSelfSignedTLS(t *testing.T) {
	cfg := strings.Replace(strings.Replace(string(sample(t)), `"SSL": false`, `"SSL": true`, 1), `"port": "5000"`, `"port": "0"`, 1)
	sink := drivertest.NewSink()
	_, addr := start(t, []byte(cfg), sink)
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Error("the REST server negotiated HTTP/2; it serves HTTP/1.1 only")
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer cl.CloseIdleConnections()
	resp, err := cl.Post("https://"+addr+"/anon1", "application/json", strings.NewReader(`{"temp":1,"hum":2}`))
	if err != nil {
		t.Fatalf("verified TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Plain HTTP is refused.
	if r, err := http.Post("http://"+addr+"/anon1", "application/json", strings.NewReader(`{}`)); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Fatal("plain HTTP accepted on a TLS server")
		}
	}
}

func TestDownlink(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/fail") {
			http.Error(w, "x", 502)
			return
		}
		fmt.Fprint(w, `{"echo":true}`)
	}))
	t.Cleanup(srv.Close)
	cfg := strings.NewReplacer("http://127.0.0.1:5001", srv.URL, "http://127.0.0.1:5000", srv.URL, `"port": "5000"`, `"port": "0"`).Replace(string(sample(t)))
	c, _ := start(t, []byte(cfg), drivertest.NewSink())
	ctx := context.Background()
	if err := c.OnAttributes(ctx, "SN-2", map[string]any{"fw": 6.6}); err != nil {
		t.Fatal(err)
	}
	r, err := c.OnRPC(ctx, connector.RPC{Device: "SN-2", ID: 4, Method: "echo", Params: json.RawMessage(`{"a":"b"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(r); string(b) != `{"result":{"echo":true}}` {
		t.Fatalf("echo: %s", b)
	}
	r, err = c.OnRPC(ctx, connector.RPC{Device: "SN-2", ID: 5, Method: "post_attributes",
		Params: json.RawMessage(`{"sensorModel":"M","certificateNumber":"C","temp":1,"hum":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	params, _ := json.Marshal("url=" + srv.URL + "/fail;HTTPMethod=POST;value=7;")
	r, err = c.OnRPC(ctx, connector.RPC{Device: "SN-2", ID: 6, Method: "set", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(r); string(b) != `{"result":{"code":502,"error":"Bad Gateway"}}` {
		t.Fatalf("set: %s", b)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`POST / {"deviceName":"SN-2","fw":"6.6"}`,
		`GET /SN-2 {"a":"b"}`,
		`POST /my_devices {"sensorName":"SN-2", "sensorModel":"M", "certificateNumber":"C", "temp":"1", "hum":"2"}`,
		`POST /fail 7`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCurlAndPython drives the sample's endpoints with curl and Python's
// http.client.
func TestCurlAndPython(t *testing.T) {
	curl, cerr := exec.LookPath("curl")
	py, perr := exec.LookPath("python3")
	drivertest.RequirePeer(t, cerr == nil && perr == nil, "curl and python3 (scripts/peers/http.sh)")
	sink := drivertest.NewSink()
	_, addr := start(t, onPort0(sample(t)), sink)
	out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
		"-H", "Content-Type: application/json", "-d", `{"sensorName":"CURL-1","sensorType":"t","temp":1.5,"hum":2}`,
		"http://"+addr+"/my_devices").CombinedOutput()
	if err != nil || string(out) != "200" {
		t.Fatalf("curl: %v %s", err, out)
	}
	script := `
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], timeout=10)
c.request("POST", "/anon1?temp=7", body="hum=8", headers={"Content-Type": "application/x-www-form-urlencoded"})
r = c.getresponse(); r.read(); print(r.status)
c.request("POST", "/sharedAttributes", body='{"deviceName":"CURL-1","attribute":"a"}', headers={"Content-Type": "application/json"})
r = c.getresponse(); print(r.status, r.read().decode())
`
	out, err = exec.Command(py, "-c", script, addr).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "200\n200 {\"device\":\"CURL-1\",\"value\":null}" {
		t.Fatalf("python output %q", got)
	}
	if v, _ := sink.Latest("CURL-1", "temperature", false); v != 1.5 {
		t.Errorf("curl data: %#v", v)
	}
	if v, _ := sink.Latest("Device 2", "humidity", false); v != 8.0 {
		t.Errorf("python data: %#v", v)
	}
}

func TestBadConfigs(t *testing.T) {
	for name, cfg := range map[string]string{
		"regex param":     `{"server":{"port":0},"mapping":[{"endpoint":"/a/{x:\\d+}","HTTPMethods":["POST"],"converter":{"type":"json","deviceNameExpression":"d"}}]}`,
		"duplicate":       `{"server":{"port":0},"mapping":[{"endpoint":"/a","HTTPMethods":["POST"],"converter":{"type":"json","deviceNameExpression":"d"}},{"endpoint":"/a","HTTPMethods":["GET"],"converter":{"type":"json","deviceNameExpression":"d"}}]}`,
		"no methods":      `{"server":{"port":0},"mapping":[{"endpoint":"/a","converter":{"type":"json","deviceNameExpression":"d"}}]}`,
		"bad port":        `{"server":{"port":"http"},"mapping":[{"endpoint":"/a","HTTPMethods":["POST"],"converter":{"type":"json","deviceNameExpression":"d"}}]}`,
		"expect w/o attr": `{"server":{"port":0},"mapping":[{"endpoint":"/a","HTTPMethods":["POST"],"response":{"responseExpected":true},"converter":{"type":"json","deviceNameExpression":"d"}}]}`,
		"bad auth":        `{"server":{"port":0},"mapping":[{"endpoint":"/a","HTTPMethods":["POST"],"security":{"type":"token"},"converter":{"type":"json","deviceNameExpression":"d"}}]}`,
		"relative":        `{"server":{"port":0},"mapping":[{"endpoint":"a","HTTPMethods":["POST"],"converter":{"type":"json","deviceNameExpression":"d"}}]}`,
	} {
		if _, err := New([]byte(cfg), drivertest.Env(t, "REST", "rest")); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "REST.json:") {
			t.Errorf("%s: error without position: %v", name, err)
		}
	}
}

// TestStopWhileWaiting: a request waiting for its response attribute when
// the connector stops gets 503, never an empty 200.
func TestStopWhileWaiting(t *testing.T) {
	sink := drivertest.NewSink()
	c, err := New(fmt.Appendf(nil, expectCfg, 64, "30"), drivertest.Env(t, "REST", "rest"))
	if err != nil {
		t.Fatal(err)
	}
	rc := c.(*Connector)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rc.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	drivertest.Eventually(t, 5*time.Second, "listening", func() bool { return rc.ListenAddr() != "" })
	codes := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+rc.ListenAddr()+"/ask", "application/json", strings.NewReader(`{"name":"Q","v":1}`))
		if err != nil {
			codes <- -1
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}()
	sink.Wait(t, 5*time.Second, "the question", func(d []connector.Data) bool { return len(d) > 0 })
	cancel()
	select {
	case code := <-codes:
		if code == 200 {
			t.Fatal("stopping connector answered 200 without the response")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting request not ended by the stop")
	}
}

// TestEndpointReportStrategy: an endpoint's reportStrategy reaches its
// datapoints.
func TestEndpointReportStrategy(t *testing.T) {
	cfg := strings.Replace(basicCfg, `"security":{"type":"basic","username":"u","password":"p"},`,
		`"reportStrategy":{"type":"ON_CHANGE_OR_REPORT_PERIOD","reportPeriod":3000},`, 1)
	sink := drivertest.NewSink()
	_, addr := start(t, []byte(cfg), sink)
	if code, _ := do(t, "POST", "http://"+addr+"/secure", "application/json", `{"v":5}`); code != 200 {
		t.Fatalf("status %d", code)
	}
	d := sink.Data()
	if len(d) != 1 || len(d[0].Telemetry) != 1 {
		t.Fatalf("data %+v", d)
	}
	if r := d[0].Telemetry[0].Report; r == nil || r.Type != "ON_CHANGE_OR_REPORT_PERIOD" || r.PeriodMs != 3000 {
		t.Fatalf("report strategy %+v", r)
	}
}
