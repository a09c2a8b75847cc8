package opcua

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// testServer is the node-opcua test server (testdata/server.js).
type testServer struct {
	t     testing.TB
	port  int
	pki   string
	args  []string
	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// The servers of all tests share one PKI directory (a temporary directory
// removed by TestMain): node-opcua creates its certificates once.
var (
	pkiOnce sync.Once
	pkiDir  string
	pkiErr  error
)

func sharedPKI(t testing.TB) string {
	pkiOnce.Do(func() { pkiDir, pkiErr = os.MkdirTemp("", "tbgw-opcua-pki-") })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

// nodeModules finds the npm packages installed by scripts/peers/opcua.sh.
func nodeModules(t testing.TB) string { return drivertest.NodeModules(t, "opcua", "node-opcua-server") }

// startServer starts the test server on a free port; it is killed when the
// test ends.
func startServer(t testing.TB, args ...string) *testServer {
	t.Helper()
	ts := &testServer{t: t, port: drivertest.FreePort(t), pki: sharedPKI(t), args: args}
	ts.start()
	t.Cleanup(ts.kill)
	return ts
}

func (ts *testServer) url() string { return fmt.Sprintf("opc.tcp://127.0.0.1:%d", ts.port) }

func (ts *testServer) start() {
	t := ts.t
	t.Helper()
	mods := nodeModules(t)
	args := append([]string{"--security-revert=CVE-2023-46809", "testdata/server.js", fmt.Sprint(ts.port), ts.pki}, ts.args...)
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods, "HOME="+ts.pki)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "listening") {
				select {
				case ready <- line:
				default:
				}
			}
		}
	}()
	ts.mu.Lock()
	ts.cmd, ts.stdin, ts.done = cmd, stdin, done
	ts.mu.Unlock()
	select {
	case <-ready:
	case <-done:
		_ = cmd.Wait()
		t.Fatalf("opcua test server exited: %s", stderr.String())
	case <-time.After(180 * time.Second):
		ts.kill()
		t.Fatalf("opcua test server not listening after 180s: %s", stderr.String())
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// kill stops the server (the whole process group) and waits for it.
func (ts *testServer) kill() {
	ts.mu.Lock()
	cmd, done := ts.cmd, ts.done
	ts.cmd = nil
	ts.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	_ = cmd.Wait()
}

// restart kills the server and starts it again on the same port.
func (ts *testServer) restart() {
	ts.kill()
	ts.start()
}

// command writes a control line to the server's stdin.
func (ts *testServer) command(line string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, err := io.WriteString(ts.stdin, line+"\n"); err != nil {
		ts.t.Fatalf("server command %q: %v", line, err)
	}
}
