package bacnet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// peerDevice configures one device of testdata/peer.js.
type peerDevice struct {
	Port         int    `json:"port"`
	Instance     int    `json:"instance"`
	Name         string `json:"name,omitempty"`
	AnalogInputs int    `json:"analogInputs,omitempty"`
	AnalogValues int    `json:"analogValues,omitempty"`
	MaxAPDU      int    `json:"maxApdu,omitempty"`
	Segmentation *bool  `json:"segmentation,omitempty"`
	RPM          *bool  `json:"rpm,omitempty"`
	COV          *bool  `json:"cov,omitempty"`
	Bind         string `json:"bind,omitempty"`
	BBMDNak      bool   `json:"bbmdNak,omitempty"`
	ConfirmedCOV bool   `json:"confirmedCov,omitempty"`
	Broadcast    string `json:"broadcast,omitempty"`
}

type peerRouter struct {
	Port       int    `json:"port"`
	Bind       string `json:"bind,omitempty"`
	Net        int    `json:"net"`
	MAC        int    `json:"mac"`
	DevicePort int    `json:"devicePort"`
}

type peerConfig struct {
	Router   *peerRouter  `json:"router,omitempty"`
	Host     string       `json:"host,omitempty"`
	ChangeMs int          `json:"changeMs,omitempty"`
	Devices  []peerDevice `json:"devices"`
}

// testPeer is a running testdata/peer.js.
type testPeer struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu    sync.Mutex
	lines []string
	cond  chan struct{}
}

var bfalse, btrue = false, true

// nodeModules finds the npm packages installed by scripts/peers/bacnet.sh.
func nodeModules(t testing.TB) string {
	return drivertest.NodeModules(t, "bacnet", "@bacnet-js/client")
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freeUDPPort returns a UDP port free on 127.0.0.1 right now and not
// handed out before in this process.
func freeUDPPort(t testing.TB) int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if !ports[p] {
			ports[p] = true
			return p
		}
	}
	t.Fatal("no free UDP port")
	return 0
}

// startPeer runs peer.js with cfg (prefix: a command prefix such as
// "ip netns exec x"); it waits for every device to be ready and is killed
// when the test ends.
func startPeer(t testing.TB, cfg peerConfig, prefix ...string) *testPeer {
	t.Helper()
	return startPeerHook(t, cfg, nil, prefix...)
}

// startPeerHook is startPeer with a hook called with the process id right
// after the start, before waiting for the devices.
func startPeerHook(t testing.TB, cfg peerConfig, started func(pid int), prefix ...string) *testPeer {
	t.Helper()
	mods := nodeModules(t)
	raw, _ := json.Marshal(cfg)
	args := append(append([]string{}, prefix...), "node", "testdata/peer.js", string(raw))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
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
	var errMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { errMu.Lock(); defer errMu.Unlock(); return stderr.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &testPeer{t: t, cmd: cmd, stdin: stdin, done: make(chan struct{}), cond: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.cond)
			p.cond = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	if started != nil {
		started(cmd.Process.Pid)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			errMu.Lock()
			defer errMu.Unlock()
			p.mu.Lock()
			t.Logf("peer output: %q", p.lines[max(0, len(p.lines)-30):])
			p.mu.Unlock()
			if s := stderr.String(); s != "" {
				t.Logf("peer stderr:\n%s", s[max(0, len(s)-4000):])
			}
		}
	})
	ready := cfg.Devices
	if cfg.Router != nil {
		ready = append(ready, peerDevice{Port: cfg.Router.Port})
	}
	for _, d := range ready {
		if !p.waitLine(fmt.Sprintf("ready %d", d.Port), 30*time.Second) {
			errMu.Lock()
			defer errMu.Unlock()
			t.Fatalf("peer device %d not ready: %s", d.Port, stderr.String())
		}
	}
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// kill stops the peer and waits for it (idempotent).
func (p *testPeer) kill() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.stdin.Close()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	_ = p.cmd.Wait()
}

// waitLine waits for an output line starting with prefix.
func (p *testPeer) waitLine(prefix string, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return true
			}
		}
		ch := p.cond
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.done:
			return false
		case <-deadline.C:
			return false
		}
	}
}

// count returns how many output lines start with prefix.
func (p *testPeer) count(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
