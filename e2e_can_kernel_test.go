//go:build kerneltest && linux

package main

// The tbgw binary with the CAN connector on a real kernel (run by
// scripts/kernel-test.sh, which puts the binary at /bin/tbgw): frames on
// vcan0 become telemetry at the ThingsBoard stand-in, and an RPC and an
// attribute update from it come back as frames that candump sees.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/can/cantest"
	"github.com/tbgw/tbgw/gw/tbtest"
)

const canGatewayConfig = `{
  "interface": "socketcan", "channel": "vcan0", "backend": {"fd": true}, "reconnectPeriod": 1,
  "devices": [{
    "name": "Car", "strictEval": false,
    "timeseries": [
      {"key": "rpm", "nodeId": 1918, "isExtendedId": true, "command": "2:2:big:48059", "value": "4:2:big:int", "expression": "value / 4"},
      {"key": "speed", "nodeId": 256, "value": "0:2:little:int"}
    ],
    "attributes": [
      {"key": "isDriverDoorOpened", "nodeId": 41, "command": "2:2:big:8717", "value": "4:1:int", "expression": "bool(value & 0b00000100)"}
    ],
    "attributeUpdates": [
      {"attributeOnThingsBoard": "softwareVersion", "nodeId": 64, "isExtendedId": true, "dataLength": 4, "dataExpression": "value + 5", "dataByteorder": "little"}
    ],
    "serverSideRpc": [
      {"method": "setLightLevel", "nodeId": 5, "dataLength": 2, "dataByteorder": "little", "dataBefore": "00AA", "response": true}
    ]
  }]
}`

// startCANGateway runs /bin/tbgw with the CAN connector alone against an
// in-process broker and ThingsBoard stand-in.
func startCANGateway(t testing.TB) (*tbtest.ThingsBoard, *exec.Cmd) {
	t.Helper()
	cantest.Require(t)
	bin := os.Getenv("TBGW_BIN")
	if bin == "" {
		bin = "/bin/tbgw"
	}
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := t.TempDir()
	main, err := json.Marshal(map[string]any{
		"thingsboard": map[string]any{
			"host": b.Host, "port": b.Port, "qos": 1,
			"security": map[string]any{"type": "accessToken", "accessToken": "test-token"},
		},
		"storage":    json.RawMessage(`{"type":"memory","max_records_count":100000}`),
		"connectors": []any{map[string]any{"type": "can", "name": "CAN", "configuration": "can.json"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"tb_gateway.json": main, "can.json": []byte(canGatewayConfig)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-c", dir)
	cmd.Stderr = logWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	tb.WaitConnected("Car", 30*time.Second)
	return tb, cmd
}

func TestKernelCANGateway(t *testing.T) {
	d := cantest.Candump(t, "")
	tb, _ := startCANGateway(t)

	cantest.Send(t, "0000077E#0000BBBB0FA0")
	tb.WaitTelemetry("Car", "rpm", func(v any) bool { return v == 1000.0 }, 20*time.Second)
	cantest.Send(t, "029#0000220D04")
	tb.WaitAttribute("Car", "isDriverDoorOpened", func(v any) bool { return v == true }, 20*time.Second)

	d.Flush(10 * time.Second) // our own cansend frames
	res, err := tb.RPC("Car", "setLightLevel", map[string]any{"value": 500}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res), `"success":true`) {
		t.Fatalf("RPC reply %s", res)
	}
	d.Expect("005#00AAF401", 10*time.Second)

	tb.SetAttributes("Car", map[string]any{"softwareVersion": 7})
	d.Expect("00000040#0C000000", 10*time.Second)
}

// BenchmarkKernelCANGateway: cangen floods the gateway binary with one
// mapped frame stream; it reports the frames per second that reached the
// ThingsBoard stand-in as telemetry, the gateway's CPU time per 1000
// frames and its resident memory.
func BenchmarkKernelCANGateway(b *testing.B) {
	tb, cmd := startCANGateway(b)
	pid := cmd.Process.Pid
	const frames = 10000
	for i := 0; i < b.N; i++ {
		cpu0 := cpuTime(b, pid)
		start := time.Now()
		// 256#<2-byte counter, little-endian>: every frame a new value.
		cantest.Run(b, "cangen", cantest.Iface, "-g", "0", "-n", strconv.Itoa(frames), "-I", "100", "-L", "2", "-D", "i")
		sent := time.Since(start)
		// A marker frame queued behind the flood: once it is at
		// ThingsBoard, every flood frame the kernel kept is too.
		marker := float64(i + 1)
		for try := 0; ; try++ {
			cantest.Send(b, fmt.Sprintf("0000077E#0000BBBB%04X", 4*(i+1)))
			if tb.Await(5*time.Second, func() bool { v, _ := tb.Latest("Car", "rpm"); return v == marker }) {
				break
			}
			if try == 5 {
				b.Fatal("marker frame not at ThingsBoard")
			}
		}
		el := time.Since(start)
		got := 0
		for _, r := range tb.Telemetry("Car") {
			if _, ok := r.Values["speed"]; ok {
				got++
			}
		}
		cpu := cpuTime(b, pid) - cpu0
		b.ReportMetric(float64(got)/el.Seconds(), "frames/s")
		b.ReportMetric(float64(cpu.Microseconds())/1000/(float64(got)/1000), "cpu-ms/1000frames")
		b.ReportMetric(float64(rssKB(b, pid)), "rss-KB")
		b.Logf("cangen sent %d frames in %v; %d reached ThingsBoard within %v; gateway CPU %v", frames, sent, got, el, cpu)
		b.ReportMetric(float64(got)/float64(frames)*100, "%delivered")
	}
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func cpuTime(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
}

func rssKB(tb testing.TB, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}
