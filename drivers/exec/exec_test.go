package exec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func helperConn(t *testing.T, mode string, extra string) *Conn {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{exe, "-test.run=^$"})
	raw := `{"command":` + string(cmd) + `,"env":{"TBGW_EXEC_HELPER":"` + mode + `"},"config":{"greeting":"hi"},"restartMinMs":100,"restartMaxMs":400,"stopTimeoutMs":1000` + extra + `}`
	c, err := New([]byte(raw), drivertest.Env(t, "exec-"+mode, "exec"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Conn)
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rpc(c *Conn, dev, method, params string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := c.OnRPC(ctx, connector.RPC{Device: dev, Method: method, Params: json.RawMessage(params), Timeout: timeout})
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(res)
	return string(b), nil
}

func TestEchoProgram(t *testing.T) {
	c := helperConn(t, "echo", "")
	sink := drivertest.NewSink()
	sink.Attrs["E1"] = map[string]any{"a": 5.0}
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "first telemetry", func(d []connector.Data) bool { return len(d) >= 1 })
	if cs := sink.Connects(); len(cs) != 1 || cs[0] != "E1" {
		t.Fatalf("connects %v", cs)
	}
	if v, _ := sink.Latest("E1", "cfg", false); string(v.(json.RawMessage)) != `{"greeting":"hi"}` {
		t.Fatalf("config seen by the program: %v", v)
	}
	// The data line with seq 2 is acknowledged once stored.
	sink.Wait(t, 10*time.Second, "ack 2", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "E1", "acked", false)
		return ok && v == int64(2)
	})
	got, err := rpc(c, "E1", "setX", `{"x":1}`, 5*time.Second)
	if err != nil || got != `{"device":"E1","method":"setX","params":{"x":1}}` {
		t.Fatalf("rpc: %s, %v", got, err)
	}
	if _, err := rpc(c, "E1", "fail", `null`, 5*time.Second); err == nil || err.Error() != "asked to fail" {
		t.Fatalf("failing rpc: %v", err)
	}
	got, err = rpc(c, "", "connectorLevel", `1`, 5*time.Second)
	if err != nil || got != `{"device":null,"method":"connectorLevel","params":1}` {
		t.Fatalf("connector rpc: %s, %v", got, err)
	}
	if _, err := rpc(c, "E1", "ignore", `1`, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no reply") {
		t.Fatalf("ignored rpc: %v", err)
	}
	got, err = rpc(c, "E1", "shared", `null`, 5*time.Second)
	if err != nil || got != `{"a":5}` {
		t.Fatalf("attribute request: %s, %v", got, err)
	}
	if err := c.OnAttributes(context.Background(), "E1", map[string]any{"target": 21.5}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "attribute echoed", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "E1", "target", true)
		return ok && v == 21.5
	})
	if st := c.Stats(); st["protocolErrors"] != 0 || st["starts"] != 1 {
		t.Fatalf("stats %v", st)
	}
}

func TestCrashingProgramIsRestarted(t *testing.T) {
	c := helperConn(t, "crash", "")
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "three runs", func(d []connector.Data) bool { return len(d) >= 3 })
	pids := map[any]bool{}
	for _, d := range sink.Data() {
		pids[d.Telemetry[0].Value] = true
	}
	if len(pids) < 3 {
		t.Fatalf("pids %v", pids)
	}
	for p := range pids {
		assertGone(t, int(p.(int64)))
	}
	if _, err := rpc(c, "C", "x", "1", time.Second); err == nil {
		t.Fatal("rpc to a crashing program succeeded")
	}
}

// assertGone checks a process has ended and was reaped (no zombie of ours).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, 10*time.Second, "process "+strconv.Itoa(pid)+" gone", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// A zombie not parented by us is init's to reap.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return f[0] == "Z" && f[1] != strconv.Itoa(os.Getpid())
	})
}

// fullSink refuses data while full is set.
type fullSink struct {
	*drivertest.Sink
	full atomic.Bool
}

func (s *fullSink) Send(ctx context.Context, items []connector.Data) error {
	if s.full.Load() {
		return connector.ErrStorageFull
	}
	return s.Sink.Send(ctx, items)
}

func TestFloodWithBackpressure(t *testing.T) {
	const n = 20000
	t.Setenv("FLOOD_N", strconv.Itoa(n))
	c := helperConn(t, "flood", "")
	sink := &fullSink{Sink: drivertest.NewSink()}
	sink.full.Store(true)
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "storage-full waits", func() bool { return c.Stats()["storageFullWaits"] >= 3 })
	// While storage refuses, the connector reads no further than one
	// batch plus its line buffer.
	if l := c.Stats()["lines"]; l > 2000 {
		t.Fatalf("read %d lines while storage was full", l)
	}
	if c.Stats()["acks"] != 0 {
		t.Fatal("acknowledged lines that were not stored")
	}
	sink.full.Store(false)
	sink.Wait(t, 30*time.Second, "every line acknowledged", func(d []connector.Data) bool {
		_, ok := drivertest.Latest(d, "F", "allAcked", false)
		return ok
	})
	data := sink.Data()
	for i := 0; i < n; i++ {
		if v := data[i].Telemetry[0].Value; v != int64(i+1) {
			t.Fatalf("item %d: %v", i, v)
		}
	}
}

func TestGarbageLines(t *testing.T) {
	c := helperConn(t, "garbage", `,"maxLineBytes":4096`)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "the valid line and six error reports", func(d []connector.Data) bool {
		_, ok := drivertest.Latest(d, "G", "ok", false)
		errs := 0
		for _, x := range d {
			if x.Device == "G" && x.Telemetry[0].Key == "errLine" {
				errs++
			}
		}
		return ok && errs == 6
	})
	var lines []any
	for _, d := range sink.Data() {
		if d.Telemetry[0].Key == "errLine" {
			lines = append(lines, d.Telemetry[0].Value)
		}
	}
	if b, _ := json.Marshal(lines); string(b) != "[1,2,3,4,5,6]" {
		t.Fatalf("error lines %s", b)
	}
	if c.Stats()["protocolErrors"] != 6 || c.Stats()["starts"] != 1 {
		t.Fatalf("stats %v", c.Stats())
	}
}

func TestDeafProgramIsKilled(t *testing.T) {
	c := helperConn(t, "deaf", `,"queueSize":16`)
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	sink.Wait(t, 10*time.Second, "data", func(d []connector.Data) bool { return len(d) > 3 })
	// Its stdin fills up; updates are then refused, data keeps flowing.
	// (Refused 50 times in a row: the pipe is full, not just the queue.)
	for i, fails := 0, 0; i < 200000 && fails < 50; i++ {
		if c.OnAttributes(context.Background(), "D", map[string]any{"a": i}) != nil {
			fails++
			time.Sleep(time.Millisecond)
		} else {
			fails = 0
		}
	}
	if c.Stats()["stdinDropped"] == 0 {
		t.Fatal("no update was refused")
	}
	n := len(sink.Data())
	sink.Wait(t, 10*time.Second, "more data", func(d []connector.Data) bool { return len(d) > n+3 })
	first := sink.Data()[0].Telemetry
	var pid, child int
	for _, p := range first {
		switch p.Key {
		case "pid":
			pid = int(p.Value.(int64))
		case "child":
			child = int(p.Value.(int64))
		}
	}
	if _, err := rpc(c, "D", "x", "1", 5*time.Second); err == nil || !strings.Contains(err.Error(), "not reading") {
		t.Fatalf("rpc to a deaf program: %v", err)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if el := time.Since(start); el < 900*time.Millisecond || c.Stats()["killed"] != 1 {
		t.Errorf("stopped after %v (killed %d): SIGKILL must come at the stop bound", el, c.Stats()["killed"])
	}
	assertGone(t, pid)
	assertGone(t, child)
}

func TestDownlinkWhileStopped(t *testing.T) {
	c := helperConn(t, "echo", "")
	if _, err := rpc(c, "E1", "x", "1", time.Second); !errors.Is(err, errStopped) {
		t.Fatalf("rpc: %v", err)
	}
	if err := c.OnAttributes(context.Background(), "E1", map[string]any{"a": 1}); !errors.Is(err, errStopped) {
		t.Fatalf("attributes: %v", err)
	}
}

func TestBadConfigs(t *testing.T) {
	bad := map[string]string{
		`{}`:                                   "command",
		`{"command":[]}`:                       "command",
		`{"command":"x"}`:                      "command",
		`{"command":["x"],"maxLineBytes":10}`:  "maxLineBytes",
		`{"command":["x"],"queueSize":-1}`:     "queueSize",
		`{"command":["x"],"stopTimeoutMs":-5}`: "stopTimeoutMs",
		`{"command":["x"],"restartMinMs":500,"restartMaxMs":100}`: "restartMaxMs",
		`{"command":["x"],"env":{"A=B":"c"}}`:                     "env",
	}
	for cfg, key := range bad {
		_, err := New([]byte(cfg), connector.Env{Name: "x"})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v (want an error about %s)", cfg, err, key)
		}
	}
}

func TestStopEscalatesToSIGTERM(t *testing.T) {
	c := helperConn(t, "term", "")
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	sink.Wait(t, 10*time.Second, "started", func(d []connector.Data) bool { return len(d) == 1 })
	pid := int(sink.Data()[0].Telemetry[0].Value.(int64))
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// stopTimeoutMs 1000: SIGTERM at 500 ms ends it, well before SIGKILL.
	if el := time.Since(start); el < 400*time.Millisecond || c.Stats()["killed"] != 0 {
		t.Errorf("stopped after %v, killed %d", el, c.Stats()["killed"])
	}
	assertGone(t, pid)
}

func TestProgramEnvDropsGatewaySettings(t *testing.T) {
	got := programEnv([]string{"PATH=/bin", "TB_GW_ACCESS_TOKEN=secret", "HOME=/root"})
	if len(got) != 2 || got[0] != "PATH=/bin" || got[1] != "HOME=/root" {
		t.Fatal(got)
	}
}

// A program that honours the stop message exits on it: no signal needed.
func TestStopMessage(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "stopped")
	t.Setenv("STOP_MARKER", marker)
	c := helperConn(t, "echo", "")
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	sink.Wait(t, 10*time.Second, "started", func(d []connector.Data) bool { return len(d) >= 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "stop" {
		t.Fatalf("the program did not get the stop message: %v", err)
	}
	if c.Stats()["killed"] != 0 {
		t.Fatal("SIGKILL was needed")
	}
}
