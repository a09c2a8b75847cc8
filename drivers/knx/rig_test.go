package knx

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// The bus tests run knxd in a private network namespace: its KNXnet/IP
// server needs a multicast-capable interface, and routing multicast must
// not leave the machine. The test binary re-executes itself under
// `unshare --net`; inside, a veth pair carries 10.77.0.1/24 and the
// multicast route.

const netnsEnv = "TBGW_KNX_NETNS"

// knxd listens on knx0; the connector's routing socket uses knx1 (knxd
// ignores multicast from its own address).
const knxdIP, peerIP = "10.77.0.1", "10.77.0.2"

// inNetns runs the calling test in a fresh network namespace and reports
// whether the caller is already inside one (then it runs the test body).
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == "1" {
		return true
	}
	ok := os.Geteuid() == 0
	for _, bin := range []string{"knxd", "knxtool", "unshare", "ip", "stdbuf"} {
		if _, err := exec.LookPath(bin); err != nil {
			ok = false
		}
	}
	drivertest.RequirePeer(t, ok, "knxd, knxtool, unshare and ip as root (scripts/peers/knx.sh)")
	cmd := exec.Command("unshare", "--net", "--", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=170s")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log(l)
	}
	if err != nil {
		t.Fatalf("test in network namespace: %v", err)
	}
	return false
}

// rig is knxd plus the knxtool processes around it.
type rig struct {
	t    *testing.T
	dir  string
	sock string
	knxd *exec.Cmd

	mu      sync.Mutex
	mon     []string
	changed chan struct{}
	values  map[string][]string // group address → knxtool arguments answering a read
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

func newRig(t *testing.T) *rig {
	run(t, "ip", "link", "set", "lo", "up")
	run(t, "ip", "link", "add", "knx0", "type", "veth", "peer", "name", "knx1")
	run(t, "ip", "addr", "add", knxdIP+"/24", "dev", "knx0")
	run(t, "ip", "addr", "add", peerIP+"/24", "dev", "knx1")
	run(t, "ip", "link", "set", "knx0", "up")
	run(t, "ip", "link", "set", "knx1", "up")
	run(t, "ip", "route", "add", "224.0.0.0/4", "dev", "knx0")
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, sock: filepath.Join(dir, "knx.sock"), changed: make(chan struct{}), values: map[string][]string{}}
	r.startKnxd()
	t.Cleanup(r.stopKnxd)
	return r
}

func (r *rig) url() string { return "local:" + r.sock }

func (r *rig) startKnxd() {
	t := r.t
	_ = os.Remove(r.sock)
	cmd := exec.Command("knxd", "-e", "0.0.1", "-E", "0.0.2:8", "-n", "tbgw-knxd", "-D", "-T", "-R", "-I", "knx0", "-S",
		"-u", r.sock, "-b", "dummy")
	cmd.Stdout, cmd.Stderr = logWriter{t, "knxd"}, logWriter{t, "knxd"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.knxd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(r.sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("knxd did not create its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.startTool("monitor", func(line string) {
		r.mu.Lock()
		r.mon = append(r.mon, line)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}, "vbusmonitor1", r.url())
	// The device answering reads: knxtool writes the value of every
	// group address it is asked for.
	r.startTool("responder", func(line string) {
		f := strings.Fields(line) // Read from 0.0.3 to 1/0/6
		if len(f) < 5 || f[0] != "Read" {
			return
		}
		r.mu.Lock()
		args, ok := r.values[f[4]]
		r.mu.Unlock()
		if ok {
			r.tool(args...)
		}
	}, "groupsocketlisten", r.url())
}

func (r *rig) stopKnxd() {
	if r.knxd == nil {
		return
	}
	_ = r.knxd.Process.Kill()
	_ = r.knxd.Wait()
	r.knxd = nil
}

// startTool runs a long-lived knxtool applet, feeding its lines to fn,
// until knxd stops or the test ends.
func (r *rig) startTool(name string, fn func(string), args ...string) {
	cmd := exec.Command("stdbuf", append([]string{"-oL", "knxtool"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stderr = logWriter{r.t, name}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // ends when knxtool exits
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fn(sc.Text())
		}
	}()
	r.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
}

// tool runs a one-shot knxtool applet against knxd.
func (r *rig) tool(args ...string) {
	out, err := exec.Command("knxtool", append(args[:1:1], append([]string{r.url()}, args[1:]...)...)...).CombinedOutput()
	if err != nil {
		r.t.Logf("knxtool %v: %v: %s", args, err, out)
	}
}

// answer makes the responder answer reads of ga with a groupwrite of
// hex bytes ("0c 33"), or with a small value when small.
func (r *rig) answer(ga, hex string, small bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if small {
		r.values[ga] = []string{"groupswrite", ga, hex}
		return
	}
	r.values[ga] = append([]string{"groupwrite", ga}, strings.Fields(hex)...)
}

// seen waits for a bus monitor line containing every part.
func (r *rig) seen(what string, parts ...string) {
	r.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		for _, l := range r.mon {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				r.mu.Unlock()
				return
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			r.mu.Lock()
			r.t.Fatalf("bus monitor never showed %s (%v); saw:\n%s", what, parts, strings.Join(r.mon, "\n"))
		}
	}
}

type logWriter struct {
	t    testing.TB
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// stringHex is the DPT 16 encoding of s as knxtool arguments.
func stringHex(s string) string {
	b := make([]string, 14)
	for i := range b {
		c := byte(0)
		if i < len(s) {
			c = s[i]
		}
		b[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(b, " ")
}
