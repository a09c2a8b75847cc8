package ocpp

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// nodeModules finds ocpp-rpc as installed by scripts/peers/ocpp.sh.
func nodeModules(t testing.TB) string { return drivertest.NodeModules(t, "ocpp", "ocpp-rpc") }

// sim drives testdata/sim.js: one ocpp-rpc charge point (or a swarm).
type sim struct {
	t     testing.TB
	in    io.WriteCloser
	seq   int
	mu    sync.Mutex
	lines map[int]map[string]any
	other []map[string]any
	cond  chan struct{}
	done  chan struct{}
}

type simResult struct {
	Result json.RawMessage
	Raw    string
	Error  *struct {
		Code, Message, Name string
		Status              int
	}
}

func startSim(t testing.TB) *sim {
	mods := nodeModules(t)
	script, _ := filepath.Abs("testdata/sim.js")
	cmd := exec.Command("node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testLog{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sim{t: t, in: in, lines: map[int]map[string]any{}, cond: make(chan struct{}), done: make(chan struct{})}
	go func() { // ends when the process closes stdout
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Logf("sim: %s", sc.Text())
				continue
			}
			s.mu.Lock()
			if n, ok := m["seq"].(float64); ok {
				s.lines[int(n)] = m
			} else {
				s.other = append(s.other, m)
			}
			close(s.cond)
			s.cond = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-s.done
		}
		_ = cmd.Wait()
	})
	return s
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) { w.t.Logf("sim stderr: %s", p); return len(p), nil }

// do sends a command and waits for its answer.
func (s *sim) do(cmd map[string]any) simResult {
	s.t.Helper()
	b, _ := json.Marshal(cmd)
	s.seq++
	seq := s.seq
	if _, err := s.in.Write(append(b, '\n')); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	for {
		s.mu.Lock()
		m, ok := s.lines[seq]
		ch := s.cond
		s.mu.Unlock()
		if ok {
			raw, _ := json.Marshal(m)
			var r simResult
			_ = json.Unmarshal(raw, &r)
			return r
		}
		select {
		case <-ch:
		case <-s.done:
			s.t.Fatalf("simulator exited before answering %s", b)
		case <-deadline:
			s.t.Fatalf("simulator did not answer %s", b)
		}
	}
}

// ok runs a command that must succeed and returns its result.
func (s *sim) ok(cmd map[string]any) map[string]any {
	s.t.Helper()
	r := s.do(cmd)
	if r.Error != nil {
		s.t.Fatalf("%v: %+v", cmd, *r.Error)
	}
	var m map[string]any
	_ = json.Unmarshal(r.Result, &m)
	return m
}

// event waits for an unsolicited line (incoming call, close) matching fn.
func (s *sim) event(what string, fn func(map[string]any) bool) map[string]any {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.other {
			if fn(m) {
				s.mu.Unlock()
				return m
			}
		}
		ch := s.cond
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("no %s from the simulator", what)
		}
	}
}

func incoming(method string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["incoming"] == method }
}
