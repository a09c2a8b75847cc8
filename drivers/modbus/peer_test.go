package modbus

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// Peers (scripts/peers/modbus.sh): pymodbus run by Debian's python, the
// libmodbus slave compiled into the cache, mbpoll and socat.

const debianPython = "/usr/bin/python3"

func cacheDir(t testing.TB) string {
	if c := os.Getenv("TBGW_CACHE"); c != "" {
		return c
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, ".cache")
}

func requirePymodbus(t testing.TB) {
	_, err := os.Stat("/usr/lib/python3/dist-packages/pymodbus/__init__.py")
	_, errSA := os.Stat("/usr/lib/python3/dist-packages/serial_asyncio/__init__.py")
	drivertest.RequirePeer(t, err == nil && errSA == nil, "pymodbus (python3-pymodbus, python3-serial-asyncio)")
}

func requireTool(t testing.TB, name string) string {
	p, err := exec.LookPath(name)
	drivertest.RequirePeer(t, err == nil, name)
	return p
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a peer process in its own process group with line-based stdin
// and stdout.
type proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	mu    sync.Mutex // one command at a time
}

func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = testLog{t, filepath.Base(name)}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody listens; drop
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill stops the process group and waits for it.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.t.Errorf("peer %s did not exit", p.cmd.Path)
	}
}

// line waits for the next output line accepted by match.
func (p *proc) line(timeout time.Duration, match func(string) bool) string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if match(l) {
				return l
			}
		case <-p.done:
			p.t.Fatalf("peer %s exited", p.cmd.Path)
		case <-deadline:
			p.t.Fatalf("peer %s: no expected output within %v", p.cmd.Path, timeout)
		}
	}
}

func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

type testLog struct {
	t    testing.TB
	name string
}

func (w testLog) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// pyPeer is testdata/mbserver.py.
type pyPeer struct {
	*proc
	addr string // host:port, or the serial device
}

func startPymodbus(t testing.TB, mode, where string, num int, layout any) *pyPeer {
	t.Helper()
	requirePymodbus(t)
	lay, err := json.Marshal(layout)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "layout.json")
	if err := os.WriteFile(f, lay, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &pyPeer{proc: startProc(t, debianPython, "testdata/mbserver.py", mode, where, fmt.Sprint(num), f)}
	p.addr = where
	if mode == "tcp" || mode == "rtutcp" {
		p.addr = net.JoinHostPort(where, fmt.Sprint(num))
		waitTCP(t, p.addr)
	}
	return p
}

// cmd runs a stdin command of mbserver.py and returns its answer.
func (p *pyPeer) cmd(c map[string]any) map[string]any {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(c)
	p.send(string(b))
	var out map[string]any
	l := p.line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "{") })
	if err := json.Unmarshal([]byte(l), &out); err != nil {
		p.t.Fatalf("peer answer %q: %v", l, err)
	}
	if e, ok := out["error"]; ok {
		p.t.Fatalf("peer command %s: %v", b, e)
	}
	return out
}

func waitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer at %s not listening: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cPeer is the libmodbus slave (testdata/lmbslave.c).
type cPeer struct {
	*proc
	port int
}

func lmbslavePath(t testing.TB) string {
	p := filepath.Join(cacheDir(t), "modbus", "lmbslave")
	_, err := os.Stat(p)
	drivertest.RequirePeer(t, err == nil, "libmodbus slave (scripts/peers/modbus.sh builds "+p+")")
	return p
}

func startLibmodbus(t testing.TB, args ...string) *cPeer {
	t.Helper()
	p := &cPeer{proc: startProc(t, lmbslavePath(t), args...)}
	l := p.line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "READY") })
	fmt.Sscanf(l, "READY %d", &p.port)
	return p
}

// cmd sends a command and returns its answer line (V... or OK).
func (p *cPeer) cmd(line string) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.send(line)
	return p.line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "V") || l == "OK" })
}

// ptyPair starts socat with two linked pseudo-terminals and returns their
// paths (server side, client side).
func ptyPair(t testing.TB) (string, string) {
	t.Helper()
	socat := requireTool(t, "socat")
	dir := t.TempDir()
	srv, cli := filepath.Join(dir, "ttyS_srv"), filepath.Join(dir, "ttyS_cli")
	startProc(t, socat, "pty,raw,echo=0,link="+srv, "pty,raw,echo=0,link="+cli)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, e1 := os.Stat(srv)
		_, e2 := os.Stat(cli)
		if e1 == nil && e2 == nil {
			return srv, cli
		}
		if time.Now().After(deadline) {
			t.Fatal("socat did not create the pty pair")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
