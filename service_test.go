package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/health"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// notifySocket is a service manager's end of $NOTIFY_SOCKET: a real unix
// datagram socket collecting what the gateway sends.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			select {
			case msgs <- string(buf[:n]):
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return name, msgs
}

func waitNotify(t *testing.T, msgs <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q from the gateway within 30 s", want)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServiceBinary runs the built binary as systemd would (Type=notify,
// watchdog) with the status socket and the health endpoint on, against the
// ThingsBoard stand-in: READY=1, WATCHDOG=1 while healthy, `tbgw status`,
// /healthz, /readyz and /metrics while connected and after ThingsBoard
// went away, STOPPING=1 and a clean exit on SIGTERM.
func TestServiceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := gwDir(t, b, memoryStorage, simConfig(2, 100))
	sock := filepath.Join(t.TempDir(), "run", "status.sock")
	notify, msgs := notifySocket(t)

	cmd := exec.Command(bin, "-c", dir, "-data", t.TempDir(), "-log-format", "json")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify, "WATCHDOG_USEC=1000000",
		"TB_GW_STATUS_SOCKET="+sock, "TB_GW_HTTP=:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log(sc.Text())
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "health endpoint" {
				addr <- rec.Addr
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-logDone; exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	waitNotify(t, msgs, "READY=1")
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("no health endpoint address logged")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("health endpoint not on loopback: %s", base)
	}
	tb.WaitTelemetry("Sim Device 2", "counter", func(v any) bool { return v.(float64) >= 3 }, 20*time.Second)
	waitNotify(t, msgs, "WATCHDOG=1")

	// tbgw status, text and JSON.
	code, out, errOut := runCLI(t, "status", "-status-socket", sock)
	if code != exitOK || !strings.Contains(out, ": connected") || !strings.Contains(out, "Simulator") || !strings.Contains(out, "running") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("tbgw status:\n%s", out)
	code, out, _ = runCLI(t, "status", "-json", "-status-socket", sock)
	var st health.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != exitOK {
		t.Fatalf("status -json: exit %d, %v\n%s", code, err, out)
	}
	if !st.Connected || len(st.Connectors) != 1 || st.Connectors[0].State != "running" ||
		st.Connectors[0].Counters["eventsProduced"] == 0 || st.Counters["eventsSent"] == 0 || st.PID != cmd.Process.Pid {
		t.Fatalf("status: %+v", st)
	}

	if c, body := httpGet(t, base+"/healthz"); c != 200 || !strings.Contains(body, `"connected":true`) {
		t.Fatalf("/healthz: %d %s", c, body)
	}
	if c, body := httpGet(t, base+"/readyz"); c != 200 {
		t.Fatalf("/readyz: %d %s", c, body)
	}
	c, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{"tbgw_connected 1\n", "# TYPE tbgw_events_sent_total counter\n", "tbgw_queue_depth ",
		`tbgw_connector_up{connector="Simulator",type="simulator"} 1`, `tbgw_connector_events_produced_total{connector="Simulator",type="simulator"} `,
		`tbgw_info{version="dev"} 1`} {
		if c != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}

	// ThingsBoard gone: still alive, not ready, status says so.
	b.Stop()
	drivertest.Eventually(t, 30*time.Second, "/readyz 503 without ThingsBoard", func() bool { c, _ := httpGet(t, base+"/readyz"); return c == 503 })
	if c, body := httpGet(t, base+"/healthz"); c != 200 || !strings.Contains(body, `"connected":false`) {
		t.Fatalf("/healthz while disconnected: %d %s", c, body)
	}
	if _, out, _ := runCLI(t, "status", "-status-socket", sock); !strings.Contains(out, "not connected") {
		t.Fatalf("status while disconnected:\n%s", out)
	}
	b.Start()

	cmd.Process.Signal(syscall.SIGTERM)
	waitNotify(t, msgs, "STOPPING=1")
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("status socket left behind: %v", err)
	}
	if code, _, _ := runCLI(t, "status", "-status-socket", sock); code == exitOK {
		t.Error("status succeeded with no gateway running")
	}
}
