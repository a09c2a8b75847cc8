package gw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/gw/config"
)

// The remote shell behind ThingsBoard's RPC terminal widget (tb-gateway
// 8.3): getTermInfo, sendCommand, getCommandStatus and terminateCommand,
// methods of the gateway device without the gateway_ prefix. It is off
// unless thingsboard.remoteShell is true; commands then run as the
// gateway's own user, one at a time, each bounded in time and output, and
// each logged. With remoteShellOptions.allow set only the listed programs
// run, without a shell.

const (
	shellDefaultTimeout = 60 * time.Second
	shellDefaultOutput  = 64 << 10
)

// shellMethods are the terminal widget's RPC names.
var shellMethods = map[string]bool{"getTermInfo": true, "sendCommand": true, "getCommandStatus": true, "terminateCommand": true}

type shell struct {
	opts config.ShellOptions
	g    *Gateway

	mu      sync.Mutex
	cwd     string
	cur     *shellCmd // running or finished but not yet fully read
	builtin bool      // the last command was handled internally (cd, exit)
}

type shellCmd struct {
	cmd     *exec.Cmd
	out     *capBuffer
	read    int           // bytes of out already returned
	done    chan struct{} // closed when the process has exited
	err     error
	timeout bool
	killed  bool
	line    string
}

// capBuffer keeps up to max bytes of output and counts the rest.
type capBuffer struct {
	mu      sync.Mutex
	b       []byte
	max     int
	dropped int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	n := len(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.b)
	if room < len(p) {
		c.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	c.b = append(c.b, p...)
	return n, nil
}

func (c *capBuffer) since(off int) (string, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b[min(off, len(c.b)):]), len(c.b), c.dropped
}

func newShell(g *Gateway, opts config.ShellOptions) *shell {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "/"
	}
	return &shell{g: g, opts: opts, cwd: cwd}
}

func (s *shell) timeout() time.Duration {
	if s.opts.TimeoutSeconds > 0 {
		return time.Duration(s.opts.TimeoutSeconds) * time.Second
	}
	return shellDefaultTimeout
}

func (s *shell) maxOutput() int {
	if s.opts.MaxOutputBytes > 0 {
		return s.opts.MaxOutputBytes
	}
	return shellDefaultOutput
}

// shellRPC serves a terminal-widget method; the reply leaves out the qos
// key upstream uses internally, as upstream does.
func (g *Gateway) shellRPC(method string, params json.RawMessage) any {
	g.shellOnce.Do(func() {
		if g.cfg.ThingsBoard.RemoteShell {
			g.shell = newShell(g, g.cfg.ThingsBoard.RemoteShellOptions)
		}
	})
	if g.shell == nil {
		return map[string]any{"error": "remote shell is disabled on this gateway (set thingsboard.remoteShell to true to enable it)", "code": 403}
	}
	switch method {
	case "getTermInfo":
		return g.shell.termInfo()
	case "sendCommand":
		var p struct {
			Command string `json:"command"`
			Cwd     string `json:"cwd"`
		}
		if err := json.Unmarshal(params, &p); err != nil {
			return map[string]any{"ok": false, "error": "params must be {\"command\": ..., \"cwd\": ...}"}
		}
		return g.shell.send(p.Command, p.Cwd)
	case "getCommandStatus":
		return g.shell.status()
	case "terminateCommand":
		return g.shell.terminate()
	}
	return map[string]any{"error": "Method not found", "code": 404}
}

func (s *shell) termInfo() map[string]any {
	release := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		release = strings.TrimSpace(string(b))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// platform.system() spelling, which the widget shows.
	platform := strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]
	return map[string]any{"platform": platform, "release": release, "cwd": s.cwd}
}

func (s *shell) send(line, cwd string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cwd != "" && cwd != s.cwd {
		if fi, err := os.Stat(cwd); err == nil && fi.IsDir() {
			s.cwd = cwd
		}
	}
	words := strings.Fields(line)
	if len(words) == 0 {
		return map[string]any{"ok": false}
	}
	if s.cur != nil {
		s.g.log.Info("remote shell: new command terminates the running one", "running", s.cur.line)
		s.killLocked()
		s.cur = nil
	}
	s.g.log.Info("remote shell command", "command", line, "cwd", s.cwd)
	s.builtin = false
	switch words[0] {
	case "exit", "quit":
		s.builtin = true
		return map[string]any{"ok": true}
	case "cd":
		dir := os.Getenv("HOME")
		if len(words) > 1 {
			dir = words[1]
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.cwd, dir)
		}
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			return map[string]any{"ok": false, "error": "cd: " + dir + ": no such directory"}
		}
		s.cwd = filepath.Clean(dir)
		s.builtin = true
		return map[string]any{"ok": true}
	}
	var argv []string
	if len(s.opts.Allow) > 0 {
		if !allowed(s.opts.Allow, words[0]) {
			s.g.log.Warn("remote shell command refused: not in remoteShellOptions.allow", "command", line)
			return map[string]any{"ok": false, "error": fmt.Sprintf("%s: not allowed on this gateway (remoteShellOptions.allow)", words[0])}
		}
		argv = words
	} else {
		argv = []string{"/bin/sh", "-c", line}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = s.cwd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out := &capBuffer{max: s.maxOutput()}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		s.g.log.Warn("remote shell command failed to start", "command", line, "err", err)
		return map[string]any{"ok": false, "error": err.Error()}
	}
	c := &shellCmd{cmd: cmd, out: out, done: make(chan struct{}), line: line}
	s.cur = c
	s.g.spawn(func() {
		err := cmd.Wait()
		to := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		s.mu.Lock()
		c.err, c.timeout = err, to
		s.mu.Unlock()
		close(c.done)
		s.g.log.Info("remote shell command finished", "command", line, "err", err, "timeout", to)
	})
	return map[string]any{"ok": true}
}

func allowed(list []string, prog string) bool {
	for _, a := range list {
		if a == prog {
			return true
		}
	}
	return false
}

// status returns the output since the last call and whether the command
// has finished.
func (s *shell) status() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := map[string]any{"cwd": s.cwd, "done": true}
	data := map[string]any{"stdout": "", "stderr": ""}
	res["data"] = []any{data}
	c := s.cur
	if c == nil {
		return res
	}
	done := false
	select {
	case <-c.done:
		done = true
	default:
	}
	text, n, dropped := c.out.since(c.read)
	c.read = n
	if done {
		switch {
		case c.timeout:
			text += fmt.Sprintf("\n[tbgw: command stopped after %v]", s.timeout())
		case c.killed:
		case c.err != nil:
			text += "\n[tbgw: " + c.err.Error() + "]"
		}
		if dropped > 0 {
			text += fmt.Sprintf("\n[tbgw: %d bytes of output dropped, limit %d]", dropped, s.maxOutput())
		}
		s.cur = nil
	}
	data["stdout"] = strings.TrimSuffix(text, "\n")
	res["done"] = done
	return res
}

func (s *shell) terminate() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return map[string]any{"ok": false, "error": "Process for termination not found."}
	}
	s.g.log.Info("remote shell command terminated by ThingsBoard", "command", s.cur.line)
	s.killLocked()
	return map[string]any{"ok": true}
}

func (s *shell) killLocked() {
	c := s.cur
	select {
	case <-c.done:
		return
	default:
	}
	c.killed = true
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	// A process that ignores SIGTERM is killed by its timeout.
}

// close stops a running command when the gateway stops.
func (s *shell) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		select {
		case <-s.cur.done:
		default:
			syscall.Kill(-s.cur.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}
