package drivertest

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CacheDir is where scripts/peers/*.sh install peers that are not Debian
// packages (node modules, compiled helpers): $TBGW_CACHE, else .cache at
// the module root.
func CacheDir(t testing.TB) string {
	if c := os.Getenv("TBGW_CACHE"); c != "" {
		return c
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("drivertest: cannot locate the module root")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", ".cache")
}

// RequireTool returns the path of an executable peer program, failing
// (or skipping outside CI, see RequirePeer) when it is not installed.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	RequirePeer(t, err == nil, name)
	return p
}

// RequireFile fails (or skips, see RequirePeer) unless path exists.
func RequireFile(t testing.TB, path, what string) string {
	t.Helper()
	_, err := os.Stat(path)
	RequirePeer(t, err == nil, what)
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// WaitTCP waits until something accepts TCP connections at addr.
func WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer at %s not listening after %v: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Eventually polls cond until it holds, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Process is a peer program run for the length of a test in its own
// process group, its stderr in the test log, its stdout as lines, and a
// stdin for line commands.
type Process struct {
	t     testing.TB
	Cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	once  sync.Once
}

// StartProcess starts name with args. env entries are added to the
// environment. It is killed (the whole group) when the test ends.
func StartProcess(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = logWriter{t, filepath.Base(name)}
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{t: t, Cmd: cmd, stdin: stdin, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			t.Logf("%s> %s", filepath.Base(name), sc.Text())
			select {
			case p.lines <- sc.Text():
			default: // nobody reads; drop
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	return p
}

// Kill stops the process group and waits for it; it is idempotent.
func (p *Process) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		_ = p.stdin.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.t.Errorf("peer %s did not exit", p.Cmd.Path)
		}
	})
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Line waits for the next stdout line accepted by match (nil: any).
func (p *Process) Line(timeout time.Duration, match func(string) bool) string {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l := <-p.lines:
			if match == nil || match(l) {
				return l
			}
		case <-p.done:
			p.t.Fatalf("peer %s exited", p.Cmd.Path)
		case <-deadline.C:
			p.t.Fatalf("peer %s: no expected output within %v", p.Cmd.Path, timeout)
		}
	}
}

// Send writes one line to the process's stdin.
func (p *Process) Send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

type logWriter struct {
	t    testing.TB
	name string
}

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// NodeModules returns the node_modules directory that scripts/peers/<peer>.sh
// installs into the cache, failing (see RequirePeer) unless node and the
// npm package pkg are there.
func NodeModules(t testing.TB, peer, pkg string) string {
	t.Helper()
	dir := filepath.Join(CacheDir(t), "npm", peer, "node_modules")
	_, errNode := exec.LookPath("node")
	_, errPkg := os.Stat(filepath.Join(dir, pkg, "package.json"))
	RequirePeer(t, errNode == nil && errPkg == nil, pkg+" (scripts/peers/"+peer+".sh)")
	return dir
}
