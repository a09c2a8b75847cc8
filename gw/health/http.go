package health

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The HTTP endpoint is a small HTTP/1.1 server of its own: four read-only
// resources, one request per connection (Connection: close), which is all
// probes and Prometheus scrapes need. net/http's server would add about
// 0.5 MB to every stripped binary that has no HTTP connector.

const (
	// maxRequestHead bounds the request line and headers of a request.
	maxRequestHead = 8 << 10
	// maxHTTPConns bounds the connections served at once; more are
	// closed at once.
	maxHTTPConns = 16
)

// httpTimeout bounds reading a request and writing its answer.
var httpTimeout = 10 * time.Second

// answer is the response to one request.
type answer struct {
	code  int
	ctype string
	body  []byte
	allow bool // a 405: send Allow
}

// route answers a request for path with method.
//
// /healthz answers 200 while the gateway's main loops answer (liveness),
// whatever the state of the ThingsBoard connection; /readyz answers 200
// only while also connected to ThingsBoard. Both answer 503 otherwise,
// with the reason in the body. /status is the state as JSON, /metrics
// the counters in the Prometheus text format.
func (s *Server) route(ctx context.Context, method, path string) answer {
	switch path {
	case "/healthz", "/readyz", "/status", "/metrics":
	default:
		return answer{code: 404, ctype: "text/plain; charset=utf-8", body: []byte("404 page not found\n")}
	}
	if method != "GET" && method != "HEAD" {
		return answer{code: 405, ctype: "text/plain; charset=utf-8", body: []byte("method not allowed\n"), allow: true}
	}
	var b bytes.Buffer
	switch path {
	case "/status":
		json.NewEncoder(&b).Encode(s.src.Status())
		return answer{code: 200, ctype: "application/json", body: b.Bytes()}
	case "/metrics":
		WriteMetrics(&b, s.src.Status())
		return answer{code: 200, ctype: "text/plain; version=0.0.4; charset=utf-8", body: b.Bytes()}
	}
	code, res := s.probe(ctx, path == "/readyz")
	json.NewEncoder(&b).Encode(res)
	return answer{code: code, ctype: "application/json", body: b.Bytes()}
}

// probeResult is the body of /healthz and /readyz.
type probeResult struct {
	Status    string `json:"status"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
}

func (s *Server) probe(ctx context.Context, needConnected bool) (int, probeResult) {
	ctx, cancel := context.WithTimeout(ctx, aliveTimeout)
	defer cancel()
	res := probeResult{Status: "ok"}
	code := 200
	if err := s.src.Alive(ctx); err != nil {
		res.Status, res.Error, code = "unhealthy", err.Error(), 503
	}
	res.Connected = s.src.Status().Connected
	if needConnected && code == 200 && !res.Connected {
		res.Status, res.Error, code = "not ready", "not connected to ThingsBoard", 503
	}
	return code, res
}

// serveHTTP accepts connections until the listener is closed.
func (s *Server) serveHTTP() {
	sem := make(chan struct{}, maxHTTPConns)
	for {
		c, err := s.httpLn.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("health endpoint stopped", "err", err)
			}
			return
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close()
			continue
		}
		if !s.track(c, true) {
			c.Close()
			<-sem
			return
		}
		s.wg.Go(func() {
			defer func() { <-sem }()
			defer s.track(c, false)
			defer c.Close()
			s.serveConn(c)
		})
	}
}

// track adds c to (or removes it from) the open connections, which Close
// closes. It reports false when the server is closing.
func (s *Server) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// serveConn reads one request from c and answers it.
func (s *Server) serveConn(c net.Conn) {
	c.SetDeadline(time.Now().Add(httpTimeout))
	lr := &io.LimitedReader{R: c, N: maxRequestHead}
	method, path, err := readRequest(bufio.NewReader(lr))
	var a answer
	switch {
	case err != nil && lr.N == 0 && !errors.Is(err, errBadRequest):
		a = answer{code: 431, ctype: "text/plain; charset=utf-8", body: []byte("request header fields too large\n")}
	case err != nil && !errors.Is(err, errBadRequest):
		return // the client went away or was too slow
	case err != nil:
		a = answer{code: 400, ctype: "text/plain; charset=utf-8", body: []byte("bad request\n")}
	default:
		a = s.route(s.ctx, method, path)
	}
	var w bytes.Buffer
	fmt.Fprintf(&w, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n", a.code, statusText[a.code], a.ctype, len(a.body))
	if a.allow {
		w.WriteString("Allow: GET, HEAD\r\n")
	}
	w.WriteString("Cache-Control: no-store\r\nConnection: close\r\n\r\n")
	if method != "HEAD" {
		w.Write(a.body)
	}
	if _, err := c.Write(w.Bytes()); err != nil {
		s.log.Debug("health endpoint", "err", err)
	}
}

// statusText is the reason phrase of each code the endpoint sends.
var statusText = map[int]string{
	200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
	431: "Request Header Fields Too Large", 503: "Service Unavailable",
}

// errBadRequest is a request that is not HTTP/1.x.
var errBadRequest = errors.New("bad request")

// readRequest reads a request head (the request line, then header lines
// up to an empty line) and returns its method and path, without the
// query. The headers are not needed.
func readRequest(r *bufio.Reader) (method, path string, err error) {
	line, err := readLine(r)
	if err != nil {
		return "", "", err
	}
	f := strings.Split(line, " ")
	if len(f) != 3 || f[0] == "" || !strings.HasPrefix(f[2], "HTTP/1.") {
		return "", "", errBadRequest
	}
	method, target := f[0], f[1]
	// The absolute form (a request through a proxy) names the path after
	// the authority.
	if rest, ok := strings.CutPrefix(target, "http://"); ok {
		target = "/"
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			target = rest[i:]
		}
	}
	if !strings.HasPrefix(target, "/") {
		return "", "", errBadRequest
	}
	path, _, _ = strings.Cut(target, "?")
	for {
		h, err := readLine(r)
		if err != nil {
			return "", "", err
		}
		if h == "" {
			return method, path, nil
		}
	}
}

// readLine reads a line ending in LF (CRLF or a bare LF), without it.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}
