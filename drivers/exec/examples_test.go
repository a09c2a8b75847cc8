package exec

import (
	"context"
	"encoding/json"
	osexec "os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// python3 returns Debian's python3 (the tests' peer).
func python3(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := osexec.LookPath(p); err == nil {
			return path
		}
	}
	drivertest.RequirePeer(t, false, "python3")
	return ""
}

func exampleConn(t *testing.T, argv []string, config string) *Conn {
	t.Helper()
	cmd, _ := json.Marshal(argv)
	raw := `{"command":` + string(cmd) + `,"config":` + config + `,"restartMinMs":100,"stopTimeoutMs":2000}`
	env := drivertest.Env(t, "example", "exec")
	abs, _ := filepath.Abs("../../examples/exec")
	env.ConfigDir = abs
	c, err := New([]byte(raw), env)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Conn)
}

func TestExampleShell(t *testing.T) {
	bash, err := osexec.LookPath("bash")
	drivertest.RequirePeer(t, err == nil, "bash")
	c := exampleConn(t, []string{bash, "counter.sh"}, `{"periodMs":50,"step":2}`)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "counter telemetry", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "Shell Counter", "counter", false)
		return ok && v.(int64) >= 4
	})
	got, err := rpc(c, "Shell Counter", "reset", "1000", 5*time.Second)
	if err != nil || got != `{"counter":1000}` {
		t.Fatalf("reset: %s, %v", got, err)
	}
	if _, err := rpc(c, "Shell Counter", "other", "1", 5*time.Second); err == nil {
		t.Fatal("unknown method answered")
	}
	sink.Wait(t, 10*time.Second, "counter after reset", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "Shell Counter", "counter", false)
		return ok && v.(int64) > 1000
	})
	if err := c.OnAttributes(context.Background(), "Shell Counter", map[string]any{"step": 100}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "step attribute", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "Shell Counter", "step", true)
		return ok && v == int64(100)
	})
	if st := c.Stats(); st["protocolErrors"] != 0 || st["acks"] == 0 {
		t.Fatalf("stats %v", st)
	}
}

func TestExamplePython(t *testing.T) {
	py := python3(t)
	c := exampleConn(t, []string{py, "thermostat.py"}, `{"devices":["T1","T2"],"periodMs":50}`)
	sink := drivertest.NewSink()
	sink.Attrs["T2"] = map[string]any{"targetTemperature": 10.0}
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "telemetry of both", func(d []connector.Data) bool {
		_, ok1 := drivertest.Latest(d, "T1", "temperature", false)
		_, ok2 := drivertest.Latest(d, "T2", "temperature", false)
		return ok1 && ok2
	})
	got, err := rpc(c, "T1", "setMode", `{"mode":"off"}`, 5*time.Second)
	if err != nil || got != `{"mode":"off"}` {
		t.Fatalf("setMode: %s, %v", got, err)
	}
	// T2's target comes from the attribute request at start.
	waitFor(t, 10*time.Second, "T2's target from ThingsBoard", func() bool {
		got, err := rpc(c, "T2", "getState", `null`, 5*time.Second)
		var st map[string]any
		json.Unmarshal([]byte(got), &st)
		return err == nil && st["target"] == 10.0
	})
	if err := c.OnAttributes(context.Background(), "T1", map[string]any{"targetTemperature": 30.5}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "target echoed", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "T1", "targetTemperature", true)
		return ok && v == 30.5
	})
	if st := c.Stats(); st["protocolErrors"] != 0 || st["acks"] == 0 {
		t.Fatalf("stats %v", st)
	}
}
