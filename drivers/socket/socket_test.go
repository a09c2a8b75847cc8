package socket

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func readFile(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newConn(t *testing.T, cfg []byte) *Connector {
	t.Helper()
	c, err := New(cfg, drivertest.Env(t, "Socket", "socket"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func start(t *testing.T, cfg []byte, sink connector.Sink) (*Connector, string) {
	t.Helper()
	c := newConn(t, cfg)
	drivertest.Run(t, c, sink)
	waitFor(t, "connector live", func() bool { return c.live.Load() && (c.plan.client || c.ListenAddr() != "") })
	return c, c.ListenAddr()
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

// sampleOn is upstream's socket.json on a random port, UDP if asked.
func sampleOn(t testing.TB, udp bool) []byte {
	s := strings.Replace(string(readFile(t, "socket.json")), `"port": 50000`, `"port": 0`, 1)
	if udp {
		s = strings.Replace(s, `"type": "TCP"`, `"type": "UDP"`, 1)
	}
	return []byte(s)
}

func TestSampleLoadsUnchanged(t *testing.T) {
	c := newConn(t, readFile(t, "socket.json"))
	p := c.plan
	if p.addr != "127.0.0.1:50000" || p.udp || p.bufSize != 1024 || len(p.devices) != 1 {
		t.Fatalf("plan %+v", p)
	}
	d := p.devices[0]
	if len(d.points) != 4 || len(d.attrReqs) != 1 || d.attrReqs[0].equal != "atr" || len(d.updates) != 1 || d.updates[0].enc != "utf-16" || len(d.rpcs) != 1 {
		t.Fatalf("device %+v", d)
	}
}

// TestOldLayout ports upstream's backward-compatibility vector: the old
// flat configuration reads as the new one.
func TestOldLayout(t *testing.T) {
	old, neu := newConn(t, readFile(t, "old_config.json")).plan, newConn(t, readFile(t, "new_config.json")).plan
	a, _ := json.Marshal(fmt.Sprintf("%+v", *old.devices[0]))
	b, _ := json.Marshal(fmt.Sprintf("%+v", *neu.devices[0]))
	if old.addr != neu.addr || old.bufSize != neu.bufSize || old.udp != neu.udp || len(old.devices) != 1 ||
		old.devices[0].pattern != neu.devices[0].pattern || len(a) != len(b) {
		t.Fatalf("old %+v\nnew %+v", old, neu)
	}
}

// device is a process peer (socat, nc) with its stdin and stdout.
type procPeer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func peer(t *testing.T, name string, args ...string) *procPeer {
	t.Helper()
	path, err := exec.LookPath(name)
	drivertest.RequirePeer(t, err == nil, name+" (scripts/peers/net.sh)")
	cmd := exec.Command(path, args...)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &procPeer{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// read reads n bytes from the device's stdout within 5 s.
func (d *procPeer) read(t *testing.T, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(d.out, buf); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("device read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("device read %d bytes: timeout", n)
	}
	return buf
}

func TestTCPWithSocat(t *testing.T) {
	sink := drivertest.NewSink()
	sink.Attrs["Device Example"] = map[string]any{"sharedName": "shared!"}
	c, addr := start(t, sampleOn(t, false), sink)
	dev := peer(t, "socat", "-", "TCP:"+addr)
	fmt.Fprint(dev.in, "hello")
	sink.Wait(t, 5*time.Second, "hello", func(d []connector.Data) bool { return len(d) > 0 })
	for _, w := range []struct {
		key  string
		attr bool
		v    string
	}{{"temp", false, "hello"}, {"hum", false, "he"}, {"name", true, "hello"}, {"num", true, "ll"}} {
		if got, _ := sink.Latest("Device Example", w.key, w.attr); got != w.v {
			t.Errorf("%s = %#v, want %q", w.key, got, w.v)
		}
	}
	// Attribute request: "atr" + name; the answer comes back as JSON.
	fmt.Fprint(dev.in, "atrsharedName")
	if got := string(dev.read(t, len(`"shared!"`))); got != `"shared!"` {
		t.Fatalf("attribute answer %q", got)
	}
	// Attribute update in UTF-16 with a BOM, as Python encodes.
	ctx := context.Background()
	if err := c.OnAttributes(ctx, "Device Example", map[string]any{"sharedName": "hi", "other": 1}); err != nil {
		t.Fatal(err)
	}
	if got := dev.read(t, 6); string(got) != "\xff\xfeh\x00i\x00" {
		t.Fatalf("attribute update bytes % x", got)
	}
	// RPC written to the device.
	r, err := c.OnRPC(ctx, connector.RPC{Device: "Device Example", ID: 1, Method: "rpcMethod1", Params: json.RawMessage(`"ping"`)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(r); string(b) != `{"result":"ok"}` {
		t.Fatalf("rpc reply %s", b)
	}
	if got := string(dev.read(t, 4)); got != "ping" {
		t.Fatalf("rpc bytes %q", got)
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: "Device Example", ID: 2, Method: "nope", Params: json.RawMessage(`1`)}); err == nil {
		t.Fatal("unknown rpc: no error")
	}
	if n := len(sink.Data()); n != 1 {
		t.Fatalf("%d data items, want 1 (the attribute request is not data)", n)
	}
}

func TestReservedSetToSocatListener(t *testing.T) {
	port := freePort(t)
	lis := peer(t, "socat", "-u", "TCP-LISTEN:"+port+",bind=127.0.0.1,reuseaddr", "-")
	c, _ := start(t, sampleOn(t, false), drivertest.NewSink())
	var r any
	var err error
	waitFor(t, "listener up", func() bool {
		params, _ := json.Marshal("address=127.0.0.1;port=" + port + ";value=set;value!")
		r, err = c.OnRPC(context.Background(), connector.RPC{Device: "Device Example", ID: 3, Method: "set", Params: params})
		return err == nil
	})
	if b, _ := json.Marshal(r); string(b) != `{"result":"ok"}` {
		t.Fatalf("set reply %s", b)
	}
	if got := string(lis.read(t, len("set;value!"))); got != "set;value!" {
		t.Fatalf("listener got %q", got)
	}
	params, _ := json.Marshal("address=127.0.0.1;value=x")
	if _, err := c.OnRPC(context.Background(), connector.RPC{Device: "Device Example", Method: "set", Params: params}); err == nil {
		t.Fatal("set without port: no error")
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func TestUDPWithNetcat(t *testing.T) {
	sink := drivertest.NewSink()
	c, addr := start(t, sampleOn(t, true), sink)
	host, port, _ := net.SplitHostPort(addr)
	dev := peer(t, "nc", "-u", host, port)
	fmt.Fprint(dev.in, "udp42")
	sink.Wait(t, 5*time.Second, "udp datagram", func(d []connector.Data) bool { return len(d) > 0 })
	if got, _ := sink.Latest("Device Example", "temp", false); got != "udp42" {
		t.Fatalf("temp %#v", got)
	}
	if err := c.OnAttributes(context.Background(), "Device Example", map[string]any{"sharedName": "ok"}); err != nil {
		t.Fatal(err)
	}
	if got := dev.read(t, 6); string(got) != "\xff\xfeo\x00k\x00" {
		t.Fatalf("udp attribute update % x", got)
	}
}

const framedCfg = `{"socket":{"type":"TCP","address":"127.0.0.1","port":0,"bufferSize":64,"framing":%s,"maxConnections":%d,"idleTimeout":%s},
 "devices":[{"address":"127.0.0.1:*","deviceName":"F","encoding":"utf-8","telemetry":[{"key":"m","byteFrom":0,"byteTo":-1}]}]}`

func framed(framing string, maxConns int, idle string) []byte {
	return fmt.Appendf(nil, framedCfg, framing, maxConns, idle)
}

func values(data []connector.Data) []string {
	var out []string
	for _, d := range data {
		for _, p := range d.Telemetry {
			out = append(out, p.Value.(string))
		}
	}
	return out
}

func TestFraming(t *testing.T) {
	for _, tc := range []struct {
		name, framing string
		stream        []byte
		want          string
	}{
		{"delimiter", `{"type":"delimiter","delimiter":"\r\n"}`, []byte("a1\r\nb22\r\n\r\nc3\r\n"), "a1,b22,,c3"},
		{"fixed", `{"type":"fixed","length":3}`, []byte("abcdefghi"), "abc,def,ghi"},
		{"length", `{"type":"length","lengthBytes":2}`, []byte("\x00\x02hi\x00\x05there\x00\x00"), "hi,there,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := drivertest.NewSink()
			_, addr := start(t, framed(tc.framing, 8, "10"), sink)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Byte by byte: framing, not read boundaries, splits messages.
			for _, b := range tc.stream {
				conn.Write([]byte{b})
			}
			n := strings.Count(tc.want, ",") + 1
			sink.Wait(t, 5*time.Second, "messages", func(d []connector.Data) bool { return len(values(d)) >= n })
			if got := strings.Join(values(sink.Data()), ","); got != tc.want {
				t.Fatalf("messages %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOverlongFrameClosesConnection(t *testing.T) {
	sink := drivertest.NewSink()
	c, addr := start(t, framed(`{"type":"delimiter","delimiter":"\n","maxLength":16}`, 8, "10"), sink)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(strings.Repeat("x", 100)))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("connection not closed: %v", err)
	}
	if c.frameErrors.Load() != 1 || len(sink.Data()) != 0 {
		t.Fatalf("frame errors %d, data %d", c.frameErrors.Load(), len(sink.Data()))
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestMaxConnections: beyond maxConnections a client waits until a
// connection ends; its data is then read, not lost.
func TestMaxConnections(t *testing.T) {
	sink := drivertest.NewSink()
	c, addr := start(t, framed(`null`, 2, "10"), sink)
	var conns []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	waitFor(t, "two connections", func() bool { return c.connections.Load() == 2 })
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.Write([]byte("late"))
	conns[0].Write([]byte("first"))
	sink.Wait(t, 5*time.Second, "first", func(d []connector.Data) bool { return len(d) == 1 })
	if c.connections.Load() != 2 {
		t.Fatalf("a third connection is served")
	}
	conns[1].Close()
	sink.Wait(t, 5*time.Second, "the waiting client's data", func(d []connector.Data) bool { return len(d) == 2 })
	if got := strings.Join(values(sink.Data()), ","); got != "first,late" {
		t.Fatalf("messages %q", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	sink := drivertest.NewSink()
	_, addr := start(t, framed(`null`, 2, "0.2"), sink)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("idle connection not closed: %v", err)
	}
}

// TestManyConnections opens and closes many connections, some at once.
func TestManyConnections(t *testing.T) {
	sink := drivertest.NewSink()
	_, addr := start(t, framed(`{"type":"delimiter","delimiter":"\n"}`, 64, "10"), sink)
	const n = 300
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(conn, "m%d\n", i)
			conn.Close()
		}()
	}
	wg.Wait()
	sink.Wait(t, 10*time.Second, "all messages", func(d []connector.Data) bool { return len(d) >= n })
	seen := map[string]bool{}
	for _, v := range values(sink.Data()) {
		seen[v] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages, want %d", len(seen), n)
	}
}

func TestClientModeWithSocat(t *testing.T) {
	port := freePort(t)
	srv := peer(t, "socat", "TCP-LISTEN:"+port+",bind=127.0.0.1,reuseaddr", "-")
	cfg := fmt.Sprintf(`{"socket":{"type":"TCP","mode":"client","address":"127.0.0.1","port":%s,"reconnectPeriod":0.05,
	  "framing":{"type":"delimiter","delimiter":"\n"}},
	  "devices":[{"address":"127.0.0.1:%s","deviceName":"Server Device","encoding":"utf-8",
	    "telemetry":[{"key":"v","byteFrom":0,"byteTo":-1}],
	    "serverSideRpc":[{"methodRPC":"cmd","withResponse":true}]}]}`, port, port)
	sink := drivertest.NewSink()
	c, _ := start(t, []byte(cfg), sink)
	waitFor(t, "connected to socat", func() bool { return c.connections.Load() >= 1 })
	fmt.Fprint(srv.in, "from server\n")
	sink.Wait(t, 5*time.Second, "server data", func(d []connector.Data) bool { return len(d) > 0 })
	if v, _ := sink.Latest("Server Device", "v", false); v != "from server" {
		t.Fatalf("v = %#v", v)
	}
	if _, err := c.OnRPC(context.Background(), connector.RPC{Device: "Server Device", Method: "cmd", Params: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if got := string(srv.read(t, 7)); got != `{"a":1}` {
		t.Fatalf("server got %q", got)
	}
}

func TestStoppedDownlink(t *testing.T) {
	c := newConn(t, sampleOn(t, false))
	if err := c.OnAttributes(context.Background(), "Device Example", map[string]any{"sharedName": 1}); err == nil {
		t.Fatal("attribute update while stopped: no error")
	}
	if _, err := c.OnRPC(context.Background(), connector.RPC{Device: "Device Example", Method: "rpcMethod1"}); err == nil {
		t.Fatal("rpc while stopped: no error")
	}
}

func TestBadConfigs(t *testing.T) {
	for name, cfg := range map[string]string{
		"type":      `{"socket":{"type":"SCTP"},"devices":[{"address":"*","deviceName":"d"}]}`,
		"no device": `{"socket":{"type":"TCP"},"devices":[]}`,
		"encoding":  `{"socket":{},"devices":[{"address":"*","deviceName":"d","encoding":"ebcdic"}]}`,
		"request":   `{"socket":{},"devices":[{"address":"*","deviceName":"d","attributeRequests":[{"requestExpression":"atr","attributeNameExpression":"[3:]"}]}]}`,
		"framing":   `{"socket":{"framing":{"type":"length","lengthBytes":3}},"devices":[{"address":"*","deviceName":"d"}]}`,
		"buffer":    `{"socket":{"bufferSize":0},"devices":[{"address":"*","deviceName":"d"}]}`,
		"address":   `{"socket":{},"devices":[{"deviceName":"d"}]}`,
		"converter": `{"socket":{},"devices":[{"address":"*","deviceName":"d","converter":"NoSuchConverter"}]}`,
	} {
		if _, err := New([]byte(cfg), drivertest.Env(t, "Socket", "socket")); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "Socket.json:") {
			t.Errorf("%s: error without position: %v", name, err)
		}
	}
}

// TestUDPBurst: datagrams that arrive together are all converted, in order.
func TestUDPBurst(t *testing.T) {
	sink := drivertest.NewSink()
	cfg := `{"socket":{"type":"UDP","address":"127.0.0.1","port":0},
	  "devices":[{"address":"127.0.0.1:*","deviceName":"U","telemetry":[{"key":"m","byteFrom":0,"byteTo":-1}]}]}`
	_, addr := start(t, []byte(cfg), sink)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 100
	for i := range n {
		fmt.Fprintf(conn, "d%03d", i)
	}
	sink.Wait(t, 5*time.Second, "every datagram", func(d []connector.Data) bool { return len(d) >= n })
	got := values(sink.Data())
	for i, v := range got {
		if v != fmt.Sprintf("d%03d", i) {
			t.Fatalf("datagram %d is %q", i, v)
		}
	}
}

// TestUDPClientModeWithSocat: in client mode over UDP the connector writes
// an RPC to the device server first; the server's answers are data.
func TestUDPClientModeWithSocat(t *testing.T) {
	port := drivertest.FreeUDPPort(t)
	srv := peer(t, "socat", fmt.Sprintf("UDP-LISTEN:%d,bind=127.0.0.1", port), "-")
	cfg := fmt.Sprintf(`{"socket":{"type":"UDP","mode":"client","address":"127.0.0.1","port":%d},
	  "devices":[{"address":"127.0.0.1:%d","deviceName":"UDP Server","telemetry":[{"key":"v","byteFrom":0,"byteTo":-1}],
	    "serverSideRpc":[{"methodRPC":"poke"}]}]}`, port, port)
	sink := drivertest.NewSink()
	c, _ := start(t, []byte(cfg), sink)
	waitFor(t, "connected", func() bool { return c.connections.Load() >= 1 })
	// socat may not be bound yet: poke until it has read the datagram.
	got := make(chan []byte, 1)
	go func() { b := make([]byte, 4); io.ReadFull(srv.out, b); got <- b }()
	deadline := time.After(5 * time.Second)
poke:
	for {
		if _, err := c.OnRPC(context.Background(), connector.RPC{Device: "UDP Server", Method: "poke", Params: json.RawMessage(`"ping"`)}); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			if string(b) != "ping" {
				t.Fatalf("server got %q", b)
			}
			break poke
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("server got nothing")
		}
	}
	fmt.Fprint(srv.in, "pong")
	sink.Wait(t, 5*time.Second, "the server's answer", func(d []connector.Data) bool { return len(d) > 0 })
	if v, _ := sink.Latest("UDP Server", "v", false); v != "pong" {
		t.Fatalf("v = %#v", v)
	}
}
