package tbtest

import (
	"bufio"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP relay on 127.0.0.1 between the gateway and a broker, to
// simulate network trouble without restarting the broker: Cut drops every
// relayed connection, Block refuses new ones. In transparent mode the
// gateway connects to the proxy as if it were ThingsBoard; in HTTP CONNECT
// mode it is configured as proxy_host/proxy_port.
type Proxy struct {
	Host string
	Port int

	t           testing.TB
	target      string // transparent mode; "" for HTTP CONNECT
	l           net.Listener
	blocked     atomic.Bool
	tunnels     atomic.Int64
	mu          sync.Mutex
	conns       map[net.Conn]struct{}
	wg          sync.WaitGroup
	lastConnect atomic.Pointer[string]
	thaw        chan struct{} // non-nil while frozen; guarded by mu
	done        chan struct{} // closed when the proxy stops
}

// StartProxy starts a relay to target (host:port), or an HTTP CONNECT
// proxy when target is "". It stops when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, t: t, target: target, l: l,
		conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Block refuses (on) or admits (off) new connections.
func (p *Proxy) Block(on bool) { p.blocked.Store(on) }

// Freeze stops (on) or resumes (off) relaying bytes without closing
// anything: a black hole, as when a NAT entry silently expires. Only
// keep-alive timeouts notice it.
func (p *Proxy) Freeze(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && p.thaw == nil {
		p.thaw = make(chan struct{})
	} else if !on && p.thaw != nil {
		close(p.thaw)
		p.thaw = nil
	}
}

// frozen returns a channel to wait on while frozen, nil otherwise.
func (p *Proxy) frozen() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thaw
}

// pipe copies src to dst, holding data back while frozen.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if ch := p.frozen(); ch != nil {
				select {
				case <-ch:
				case <-p.done:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every relayed connection.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// Tunnels counts the connections relayed so far.
func (p *Proxy) Tunnels() int64 { return p.tunnels.Load() }

// LastConnect is the target of the last HTTP CONNECT request.
func (p *Proxy) LastConnect() string {
	if s := p.lastConnect.Load(); s != nil {
		return *s
	}
	return ""
}

func (p *Proxy) close() {
	close(p.done)
	_ = p.l.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer c.Close()
	target := p.target
	if target == "" { // HTTP CONNECT
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		tp := textproto.NewReader(bufio.NewReader(c))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		if _, err := tp.ReadMIMEHeader(); err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "CONNECT" {
			_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
			return
		}
		target = f[1]
		p.lastConnect.Store(&target)
		_ = c.SetDeadline(time.Time{})
	}
	if p.blocked.Load() {
		if p.target == "" {
			_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\n\r\n")
		}
		return
	}
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		if p.target == "" {
			_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		}
		return
	}
	defer up.Close()
	if p.target == "" {
		if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			return
		}
	}
	p.tunnels.Add(1)
	p.track(c, true)
	p.track(up, true)
	defer p.track(c, false)
	defer p.track(up, false)
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(up, c); _ = up.Close() })
	p.pipe(c, up)
	_ = c.Close()
	wg.Wait()
}
