package health

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSource is a gateway whose liveness and connection the test sets.
type fakeSource struct {
	connected atomic.Bool
	dead      atomic.Bool
	block     chan struct{} // when set, Alive waits for it or ctx
}

func (f *fakeSource) Status() Status {
	return Status{Version: "1.0", Connected: f.connected.Load(), Counters: map[string]uint64{"eventsSent": 3}}
}

func (f *fakeSource) Alive(ctx context.Context) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.dead.Load() {
		return errors.New("main loop stuck")
	}
	return nil
}

func startHTTP(t *testing.T, src Source) *Server {
	t.Helper()
	s, err := Start(src, "", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.HTTPAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The resources and their codes, through Go's HTTP client.
func TestHTTPEndpoint(t *testing.T) {
	src := &fakeSource{}
	s := startHTTP(t, src)

	resp, body := get(t, s, "GET", "/healthz")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/healthz: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, body = get(t, s, "GET", "/readyz?verbose=1"); resp.StatusCode != 503 || !strings.Contains(body, "not connected") {
		t.Fatalf("/readyz while disconnected: %d %s", resp.StatusCode, body)
	}
	src.connected.Store(true)
	if resp, body = get(t, s, "GET", "/readyz"); resp.StatusCode != 200 || !strings.Contains(body, `"connected":true`) {
		t.Fatalf("/readyz while connected: %d %s", resp.StatusCode, body)
	}
	src.dead.Store(true)
	if resp, body = get(t, s, "GET", "/healthz"); resp.StatusCode != 503 || !strings.Contains(body, "main loop stuck") {
		t.Fatalf("/healthz while stuck: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s, "GET", "/status")
	var st Status
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Version != "1.0" || st.Counters["eventsSent"] != 3 {
		t.Fatalf("/status: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s, "GET", "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") ||
		!strings.Contains(body, "tbgw_connected 1\n") || !strings.Contains(body, "tbgw_events_sent_total 3\n") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	if resp, body = get(t, s, "HEAD", "/metrics"); resp.StatusCode != 200 || body != "" || resp.ContentLength <= 0 {
		t.Fatalf("HEAD /metrics: %d %d %q", resp.StatusCode, resp.ContentLength, body)
	}
	if resp, _ = get(t, s, "GET", "/nothing"); resp.StatusCode != 404 {
		t.Fatalf("/nothing: %d", resp.StatusCode)
	}
	if resp, _ = get(t, s, "POST", "/healthz"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST /healthz: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// raw sends req on a new connection, half-closed after it, and returns the status line of the
// answer ("" when the server closed without one).
func raw(t *testing.T, s *Server, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite() // the request ends here
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// Malformed, oversized and non-HTTP/1 requests get an error status, not a
// hang or a crash; bare LF line ends and the absolute form are accepted.
func TestHTTPBadRequests(t *testing.T) {
	s := startHTTP(t, &fakeSource{})
	for req, want := range map[string]string{
		"GET /healthz HTTP/1.0\n\n":                      "HTTP/1.1 200 OK",
		"GET http://localhost:1/status HTTP/1.1\r\n\r\n": "HTTP/1.1 200 OK",
		"GET /healthz\r\n\r\n":                           "HTTP/1.1 400 Bad Request",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":               "HTTP/1.1 400 Bad Request",
		"GET healthz HTTP/1.1\r\n\r\n":                   "HTTP/1.1 400 Bad Request",
		"GET  /healthz HTTP/1.1\r\n\r\n":                 "HTTP/1.1 400 Bad Request",
		"GET /healthz HTTP/1.1\r\nX: " + strings.Repeat("a", maxRequestHead) + "\r\n\r\n": "HTTP/1.1 431 Request Header Fields Too Large",
		"GET /" + strings.Repeat("a", maxRequestHead) + " HTTP/1.1\r\n\r\n":               "HTTP/1.1 431 Request Header Fields Too Large",
	} {
		if got := raw(t, s, req); got != want {
			t.Errorf("%.40q: %q, want %q", req, got, want)
		}
	}
	// A request cut short gets no answer, and the server goes on.
	if got := raw(t, s, "GET /healthz HTTP/1.1\r\nHost: x"); got != "" {
		t.Errorf("cut request: %q", got)
	}
}

// A client that sends nothing is dropped after the timeout; Close does
// not wait for a request blocked on the gateway.
func TestHTTPTimeoutAndClose(t *testing.T) {
	old := httpTimeout
	httpTimeout = 200 * time.Millisecond
	t.Cleanup(func() { httpTimeout = old })
	src := &fakeSource{block: make(chan struct{})}
	s := startHTTP(t, src)

	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle client: read %d, %v; want the server to close", n, err)
	}

	// A probe waits for the blocked gateway; Close ends it.
	c2, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "GET /healthz HTTP/1.1\r\n\r\n")
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs on a request blocked on the gateway")
	}
	s.Close() // idempotent
	if _, err := net.Dial("tcp", s.HTTPAddr()); err == nil {
		t.Fatal("still listening after Close")
	}
}
