package modbus

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// Peers (scripts/peers/modbus.sh): pymodbus run by Debian's python, the
// libmodbus slave compiled into the cache, mbpoll and socat.

const debianPython = "/usr/bin/python3"

func requirePymodbus(t testing.TB) {
	_, err := os.Stat("/usr/lib/python3/dist-packages/pymodbus/__init__.py")
	_, errSA := os.Stat("/usr/lib/python3/dist-packages/serial_asyncio/__init__.py")
	drivertest.RequirePeer(t, err == nil && errSA == nil, "pymodbus (python3-pymodbus, python3-serial-asyncio)")
}

// proc is a peer process answering one line command at a time.
type proc struct {
	*drivertest.Process
	t  testing.TB
	mu sync.Mutex // one command at a time
}

func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return &proc{Process: drivertest.StartProcess(t, nil, name, args...), t: t}
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
	switch mode {
	case "tcp", "rtutcp", "tls":
		// Every TCP-based mode listens before the connector starts, so
		// its first attempt does not meet a closed port and back off.
		p.addr = net.JoinHostPort(where, fmt.Sprint(num))
		drivertest.WaitTCP(t, p.addr, 15*time.Second)
	}
	return p
}

// cmd runs a stdin command of mbserver.py and returns its answer.
func (p *pyPeer) cmd(c map[string]any) map[string]any {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(c)
	p.Send(string(b))
	var out map[string]any
	l := p.Line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "{") })
	if err := json.Unmarshal([]byte(l), &out); err != nil {
		p.t.Fatalf("peer answer %q: %v", l, err)
	}
	if e, ok := out["error"]; ok {
		p.t.Fatalf("peer command %s: %v", b, e)
	}
	return out
}

// cPeer is the libmodbus slave (testdata/lmbslave.c).
type cPeer struct {
	*proc
	port int
}

func lmbslavePath(t testing.TB) string {
	p := filepath.Join(drivertest.CacheDir(t), "modbus", "lmbslave")
	_, err := os.Stat(p)
	drivertest.RequirePeer(t, err == nil, "libmodbus slave (scripts/peers/modbus.sh builds "+p+")")
	return p
}

func startLibmodbus(t testing.TB, args ...string) *cPeer {
	t.Helper()
	p := &cPeer{proc: startProc(t, lmbslavePath(t), args...)}
	l := p.Line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "READY") })
	fmt.Sscanf(l, "READY %d", &p.port)
	return p
}

// cmd sends a command and returns its answer line (V... or OK).
func (p *cPeer) cmd(line string) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Send(line)
	return p.Line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "V") || l == "OK" })
}

// ptyPair starts socat with two linked pseudo-terminals and returns their
// paths (server side, client side).
func ptyPair(t testing.TB) (string, string) {
	t.Helper()
	socat := drivertest.RequireTool(t, "socat")
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
