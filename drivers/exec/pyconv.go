package exec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/codec"
)

// Python uplink converters for the built-in connectors: a custom converter
// ("type": "custom", "extension": "<ClassName>") that no Go converter is
// registered for is looked up as an upstream-style Python class and run in
// one shared extension host process (tbgw_host.py --converters), started
// on first use. See docs/connectors/exec.md.

func init() { codec.RegisterUplinkResolver(resolvePython) }

// Where the host and the extensions are; overridable for tests.
var (
	pyHostCandidates = func() []string {
		c := []string{os.Getenv("TBGW_PYTHON_HOST"), "/usr/share/tbgw/extensions/tbgw_host.py"}
		if exe, err := os.Executable(); err == nil {
			c = append(c, filepath.Join(filepath.Dir(exe), "extensions", "tbgw_host.py"))
		}
		return c
	}
	pyInterpreter = func() string {
		if p := os.Getenv("TBGW_PYTHON"); p != "" {
			return p
		}
		return "python3"
	}
	pyExtensionPaths = func() []string {
		if p := os.Getenv("TBGW_PYTHON_EXTENSIONS"); p != "" {
			return filepath.SplitList(p)
		}
		return []string{"/var/lib/thingsboard_gateway/extensions", "/etc/tbgw/extensions"}
	}
)

const pyCallTimeout = 10 * time.Second

func resolvePython(name string, cfg json.RawMessage) (codec.Uplink, bool, error) {
	host := ""
	for _, c := range pyHostCandidates() {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			host = c
			break
		}
	}
	if host == "" || !validClassName(name) {
		return nil, false, nil
	}
	if _, err := osexec.LookPath(pyInterpreter()); err != nil {
		return nil, true, fmt.Errorf("a Python converter needs %s: %v", pyInterpreter(), err)
	}
	if len(bytes.TrimSpace(cfg)) == 0 {
		cfg = json.RawMessage("null")
	}
	return &pyUplink{host: sharedHost(host), class: name, cfg: cfg}, true, nil
}

func validClassName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// pyUplink converts through the shared host.
type pyUplink struct {
	host  *pyHost
	class string
	cfg   json.RawMessage
}

type pyConvertReq struct {
	Type   string          `json:"type"`
	ID     int64           `json:"id"`
	Class  string          `json:"class"`
	Config json.RawMessage `json:"config"`
	Topic  string          `json:"topic"`
	JSON   json.RawMessage `json:"json,omitempty"`
	Bytes  string          `json:"bytes,omitempty"`
}

type pyConverted struct {
	Type  string `json:"type"`
	ID    int64  `json:"id"`
	Error string `json:"error"`
	Data  []struct {
		Device     string                     `json:"device"`
		DeviceType string                     `json:"deviceType"`
		Telemetry  []pyEntry                  `json:"telemetry"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	} `json:"data"`
}

type pyEntry struct {
	TS     *int64                     `json:"ts"`
	Values map[string]json.RawMessage `json:"values"`
}

// Convert hands the payload (as JSON when it is JSON, else as bytes) and
// the topic to the class's convert(topic, data).
func (u *pyUplink) Convert(topic string, payload []byte, nowMs int64) ([]codec.Data, error) {
	req := pyConvertReq{Type: "convert", Class: u.class, Config: u.cfg, Topic: topic}
	if t := bytes.TrimSpace(payload); len(t) > 0 && json.Valid(t) {
		req.JSON = t
	} else {
		req.Bytes = base64.StdEncoding.EncodeToString(payload)
	}
	var res pyConverted
	if err := u.host.call(&req, &res); err != nil {
		return nil, fmt.Errorf("python converter %s: %w", u.class, err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("python converter %s: %s", u.class, res.Error)
	}
	var out []codec.Data
	for _, d := range res.Data {
		cd := codec.Data{Device: d.Device, Type: d.DeviceType}
		for _, e := range d.Telemetry {
			for k, raw := range e.Values {
				v, err := value(raw)
				if err != nil {
					continue
				}
				p := codec.Point{Key: k, Value: v}
				if e.TS != nil {
					p.TS = *e.TS
				}
				cd.Telemetry = append(cd.Telemetry, p)
			}
		}
		for k, raw := range d.Attributes {
			if v, err := value(raw); err == nil {
				cd.Attributes = append(cd.Attributes, codec.Point{Key: k, Value: v})
			}
		}
		sortPoints(cd.Telemetry)
		sortPoints(cd.Attributes)
		if cd.Device != "" && len(cd.Telemetry)+len(cd.Attributes) > 0 {
			out = append(out, cd)
		}
	}
	return out, nil
}

// pyHost is the shared converter host process, started on first use and
// again after it died. Calls are serialised.
type pyHost struct {
	path string
	mu   sync.Mutex
	cmd  *osexec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	id   int64
}

var hosts = struct {
	sync.Mutex
	m map[string]*pyHost
}{m: map[string]*pyHost{}}

func sharedHost(path string) *pyHost {
	hosts.Lock()
	defer hosts.Unlock()
	h := hosts.m[path]
	if h == nil {
		h = &pyHost{path: path}
		hosts.m[path] = h
	}
	return h
}

func (h *pyHost) start() error {
	cmd := osexec.Command(pyInterpreter(), h.path, "--converters")
	cmd.Env = append(os.Environ(), "TBGW_PYTHON_EXTENSIONS="+strings.Join(pyExtensionPaths(), string(filepath.ListSeparator)))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the Python converter host: %w", err)
	}
	h.cmd, h.in, h.out = cmd, in, bufio.NewReaderSize(out, 1<<20)
	return nil
}

// stop kills the host and reaps it.
func (h *pyHost) stop() {
	if h.cmd == nil {
		return
	}
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	h.in.Close()
	h.cmd.Wait()
	h.cmd = nil
}

func (h *pyHost) call(req *pyConvertReq, res *pyConverted) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		if err := h.start(); err != nil {
			return err
		}
	}
	h.id++
	req.ID = h.id
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	type result struct {
		line []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if _, err := h.in.Write(append(b, '\n')); err != nil {
			done <- result{err: err}
			return
		}
		for {
			line, err := h.out.ReadBytes('\n')
			if err != nil {
				done <- result{err: err}
				return
			}
			var probe struct {
				ID int64 `json:"id"`
			}
			if json.Unmarshal(line, &probe) == nil && probe.ID == req.ID {
				done <- result{line: line}
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), pyCallTimeout)
	defer cancel()
	select {
	case r := <-done:
		if r.err != nil {
			h.stop()
			return fmt.Errorf("the Python converter host failed: %w", r.err)
		}
		return json.Unmarshal(r.line, res)
	case <-ctx.Done():
		h.stop() // ends the reader goroutine too
		<-done
		return errors.New("no answer from the Python converter host in time")
	}
}
