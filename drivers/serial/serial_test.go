package serial

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// pty is a socat pty pair: the connector opens cli, the test plays the
// device on srv.
type pty struct {
	t        *testing.T
	srv, cli string
	cmd      *exec.Cmd
}

func newPty(t *testing.T) *pty {
	dir := t.TempDir()
	p := &pty{t: t, srv: filepath.Join(dir, "dev"), cli: filepath.Join(dir, "ttyGW")}
	p.plug()
	t.Cleanup(p.unplug)
	return p
}

// plug starts socat (again) with the same link names.
func (p *pty) plug() {
	p.t.Helper()
	socat, err := exec.LookPath("socat")
	drivertest.RequirePeer(p.t, err == nil, "socat")
	p.cmd = exec.Command(socat, "pty,raw,echo=0,link="+p.srv, "pty,raw,echo=0,link="+p.cli)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	waitFor(p.t, 10*time.Second, "socat ptys", func() bool {
		_, e1 := os.Stat(p.srv)
		_, e2 := os.Stat(p.cli)
		return e1 == nil && e2 == nil
	})
}

// unplug kills socat: both ptys disappear, as when a USB adapter is pulled.
func (p *pty) unplug() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.cmd = nil
	os.Remove(p.srv)
	os.Remove(p.cli)
}

// device opens the device side of the pair.
func (p *pty) device() *devSide {
	p.t.Helper()
	f, err := os.OpenFile(p.srv, os.O_RDWR, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	d := &devSide{t: p.t, f: f, in: make(chan []byte, 64)}
	go func() {
		b := make([]byte, 1024)
		for {
			n, err := f.Read(b)
			if n > 0 {
				d.in <- bytes.Clone(b[:n])
			}
			if err != nil {
				close(d.in)
				return
			}
		}
	}()
	p.t.Cleanup(func() { f.Close() })
	return d
}

type devSide struct {
	t   *testing.T
	f   *os.File
	in  chan []byte
	buf []byte
}

func (d *devSide) write(s string) {
	d.t.Helper()
	if _, err := d.f.Write([]byte(s)); err != nil {
		d.t.Fatal(err)
	}
}

// expect reads until want has arrived (as the next bytes).
func (d *devSide) expect(want []byte) {
	d.t.Helper()
	deadline := time.After(10 * time.Second)
	for len(d.buf) < len(want) {
		select {
		case b, ok := <-d.in:
			if !ok {
				d.t.Fatalf("device side closed; got %q, want %q", d.buf, want)
			}
			d.buf = append(d.buf, b...)
		case <-deadline:
			d.t.Fatalf("device got %q, want %q", d.buf, want)
		}
	}
	if !bytes.Equal(d.buf[:len(want)], want) {
		d.t.Fatalf("device got %q, want %q", d.buf, want)
	}
	d.buf = d.buf[len(want):]
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sample is upstream's custom_serial.json with only the port replaced.
func sample(t *testing.T, port string) []byte {
	raw, err := os.ReadFile("testdata/custom_serial.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["devices"].([]any)[0].(map[string]any)["port"] = port
	out, _ := json.Marshal(m)
	return out
}

func build(t *testing.T, raw []byte) *Conn {
	t.Helper()
	c, err := New(raw, drivertest.Env(t, "Custom serial connector", "serial"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Conn)
}

func TestUpstreamSampleLoadsUnchanged(t *testing.T) {
	raw, err := os.ReadFile("testdata/custom_serial.json")
	if err != nil {
		t.Fatal(err)
	}
	c := build(t, raw)
	d := c.devs[0].spec
	if d.name != "SerialDevice1" || d.typ != "default" || d.port != "/dev/ttysUSB0" || d.mode.baud != 9600 {
		t.Fatalf("device %+v", d)
	}
	if len(d.telemetry) != 1 || len(d.attributes) != 1 || len(d.rpcs) != 2 || len(d.attrUpdates) != 1 {
		t.Fatalf("keys %+v", d)
	}
}

func rpc(t *testing.T, c *Conn, dev, method, params string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.OnRPC(ctx, connector.RPC{Device: dev, Method: method, Params: json.RawMessage(params), Timeout: 10 * time.Second})
}

func TestUpstreamSampleEndToEnd(t *testing.T) {
	p := newPty(t)
	c := build(t, sample(t, p.cli))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "connect", func() bool { return len(sink.Connects()) == 1 })
	dev := p.device()

	dev.write("23.5\rSN-0001\n")
	sink.Wait(t, 10*time.Second, "first frame", func(d []connector.Data) bool { return len(d) == 1 })
	d := sink.Data()[0]
	if d.Device != "SerialDevice1" || d.Type != "default" || len(d.Telemetry) != 1 || d.Telemetry[0].Value != 23.5 ||
		len(d.Attributes) != 1 || d.Attributes[0].Value != "SN-0001" {
		t.Fatalf("got %+v", d)
	}
	// Zero is a value (upstream drops falsy values).
	dev.write("0\r\n")
	sink.Wait(t, 10*time.Second, "zero", func(d []connector.Data) bool { return len(d) == 2 })
	if v, _ := sink.Latest("SerialDevice1", "humidity", false); v != 0.0 {
		t.Fatalf("humidity %v", v)
	}

	// Shared attribute update -> stringToDevice.
	if err := c.OnAttributes(context.Background(), "SerialDevice1", map[string]any{"attr1": 42.0}); err != nil {
		t.Fatal(err)
	}
	dev.expect([]byte("value = 42\n"))

	// RPC with response: int params written as bytes, reply read to "\r".
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); dev.expect([]byte{0x01, 0x02}); dev.write(" done \r") }()
	res, err := rpc(t, c, "SerialDevice1", "setValue", "258")
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(res); string(got) != `{"result":"done"}` {
		t.Fatalf("setValue -> %s", got)
	}
	// The answer is not uplink data.
	if n := len(sink.Data()); n != 2 {
		t.Fatalf("%d items after RPC", n)
	}

	// RPC without response.
	res, err = rpc(t, c, "SerialDevice1", "getValue", `"hello"`)
	if err != nil {
		t.Fatal(err)
	}
	dev.expect([]byte("hello"))
	if got, _ := json.Marshal(res); string(got) != `{"success":true}` {
		t.Fatalf("getValue -> %s", got)
	}

	// Unknown method, bad params.
	if _, err := rpc(t, c, "SerialDevice1", "nope", "1"); err == nil {
		t.Fatal("unknown method accepted")
	}
	if _, err := rpc(t, c, "SerialDevice1", "setValue", `"x"`); err == nil {
		t.Fatal("bad int params accepted")
	}
}

func TestRPCResponseTimeout(t *testing.T) {
	p := newPty(t)
	raw := []byte(`{"devices":[{"name":"D","port":"` + p.cli + `","serverSideRpc":[{"method":"ask","type":"string","withResponse":true,"responseType":"int","responseTimeoutSec":0.3,"responseFromByte":2}]}]}`)
	c := build(t, raw)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "connect", func() bool { return len(sink.Connects()) == 1 })
	dev := p.device()
	if _, err := rpc(t, c, "D", "ask", `"?"`); err == nil || !strings.Contains(err.Error(), "no response") {
		t.Fatalf("err %v", err)
	}
	dev.expect([]byte("?"))
	go func() { dev.expect([]byte("?")); dev.write("V=17\n") }()
	res, err := rpc(t, c, "D", "ask", `"?"`)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(res); string(got) != `{"result":17}` {
		t.Fatalf("ask -> %s", got)
	}
}

func TestFramingModes(t *testing.T) {
	p := newPty(t)
	raw := []byte(`{"devices":[{"name":"F","type":"meter","port":"` + p.cli + `","delimiter":";","timeout":0.2,"byteorder":"little",
	 "telemetry":[
	  {"key":"t","type":"float","fromDelimiter":"T=","untilDelimiter":","},
	  {"key":"n","type":"int","fromDelimiter":"N=","untilDelimiter":","},
	  {"key":"ok","type":"bool","fromDelimiter":"OK=","untilDelimiter":","},
	  {"key":"raw","type":"hex","fromByte":0,"toByte":2},
	  {"key":"j","type":"json","fromDelimiter":"J=","untilDelimiter":";"}
	 ],
	 "attributes":[{"key":"tail","type":"string","fromByte":-4,"toByte":-1}]}]}`)
	c := build(t, raw)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "connect", func() bool { return len(sink.Connects()) == 1 })
	dev := p.device()
	dev.write(`T=-1.5,N=7,OK=true,J={"a":1};`)
	sink.Wait(t, 10*time.Second, "delimited frame", func(d []connector.Data) bool { return len(d) == 1 })
	d := sink.Data()[0]
	got := map[string]any{}
	for _, pt := range d.Telemetry {
		got[pt.Key] = pt.Value
	}
	if got["t"] != -1.5 || got["n"] != int64(7) || got["ok"] != true || got["raw"] != "543d" || string(got["j"].(json.RawMessage)) != `{"a":1}` {
		t.Fatalf("telemetry %v", got)
	}
	if len(d.Attributes) != 1 || d.Attributes[0].Value != `:1}` {
		t.Fatalf("attributes %+v", d.Attributes)
	}
	// No delimiter: a pause of "timeout" ends the frame.
	dev.write("N=9,OK=0,")
	sink.Wait(t, 10*time.Second, "frame ended by a pause", func(d []connector.Data) bool { return len(d) == 2 })
	if v, _ := sink.Latest("F", "n", false); v != int64(9) {
		t.Fatalf("n %v", v)
	}
	if v, _ := sink.Latest("F", "ok", false); v != false {
		t.Fatalf("ok %v", v)
	}
}

func TestUnplugReplug(t *testing.T) {
	p := newPty(t)
	c := build(t, sample(t, p.cli))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "connect", func() bool { return len(sink.Connects()) == 1 })
	dev := p.device()
	dev.write("1.5\r\n")
	sink.Wait(t, 10*time.Second, "frame before unplug", func(d []connector.Data) bool { return len(d) == 1 })

	p.unplug()
	waitFor(t, 10*time.Second, "disconnect", func() bool { return len(sink.Disconnects()) == 1 })
	if _, err := rpc(t, c, "SerialDevice1", "getValue", `"x"`); err == nil {
		t.Fatal("RPC succeeded while unplugged")
	}
	p.plug()
	waitFor(t, 15*time.Second, "reconnect", func() bool { return len(sink.Connects()) == 2 })
	dev = p.device()
	dev.write("2.5\r\n")
	sink.Wait(t, 10*time.Second, "frame after replug", func(d []connector.Data) bool { return len(d) == 2 })
	if v, _ := sink.Latest("SerialDevice1", "humidity", false); v != 2.5 {
		t.Fatalf("humidity %v", v)
	}
	if c.Stats()["portLost"] != 1 {
		t.Fatalf("stats %v", c.Stats())
	}
}

func TestDownlinkWhileStopped(t *testing.T) {
	c := build(t, sample(t, "/nonexistent/tty"))
	if _, err := rpc(t, c, "SerialDevice1", "getValue", `"x"`); err == nil {
		t.Fatal("RPC accepted while stopped")
	}
	if err := c.OnAttributes(context.Background(), "SerialDevice1", map[string]any{"attr1": 1}); err == nil {
		t.Fatal("attribute update accepted while stopped")
	}
}

func TestReservedGetSet(t *testing.T) {
	p := newPty(t)
	c := build(t, sample(t, p.cli))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "connect", func() bool { return len(sink.Connects()) == 1 })
	dev := p.device()
	res, err := rpc(t, c, "SerialDevice1", "set", `"value=PING\r\n;"`)
	if err != nil {
		t.Fatal(err)
	}
	dev.expect([]byte("PING\r\n"))
	if _, err := rpc(t, c, "SerialDevice1", "set", `"hex=01ff;"`); err != nil {
		t.Fatal(err)
	}
	dev.expect([]byte{0x01, 0xff})
	go func() { dev.expect([]byte("T?")); dev.write("21.5#") }()
	res, err = rpc(t, c, "SerialDevice1", "get", `"delimiter=#;type=float;timeout=5;value=T?;"`)
	if got, _ := json.Marshal(res); err != nil || string(got) != `{"result":21.5}` {
		t.Fatalf("get: %s, %v", got, err)
	}
	for _, bad := range []string{`"nothing=1;"`, `"hex=zz;"`, `"value=\\x4;"`, `5`} {
		if _, err := rpc(t, c, "SerialDevice1", "set", bad); err == nil {
			t.Errorf("set %s accepted", bad)
		}
	}
	if _, err := rpc(t, c, "SerialDevice1", "get", `"type=blob;"`); err == nil {
		t.Error("get with an unknown type accepted")
	}
}
