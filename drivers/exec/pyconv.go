package exec

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

func init() {
	codec.RegisterUplinkResolver(resolvePython)
	codec.RegisterCallResolver(resolvePythonCall)
}

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

// Bounds of the host's answers: a conversion, and the start of the
// process or the loading of a class (Python's start-up and imports take
// seconds on a small device).
const (
	pyCallTimeout = 10 * time.Second
	pyLoadTimeout = 60 * time.Second
)

func resolvePython(name string, cfg json.RawMessage) (codec.Uplink, bool, error) {
	u, ok, err := newPyConverter("topic", name, cfg)
	if u == nil {
		return nil, ok, err
	}
	return u, ok, err
}

func resolvePythonCall(call, name string, cfg json.RawMessage) (codec.CallUplink, bool, error) {
	u, ok, err := newPyConverter(call, name, cfg)
	if u == nil {
		return nil, ok, err
	}
	return u, ok, err
}

// newPyConverter loads the class in the shared host now, so that a missing
// class or a constructor that fails stops the connector at its start, with
// the class and the folders searched named.
func newPyConverter(call, name string, cfg json.RawMessage) (*pyUplink, bool, error) {
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
	h := sharedHost(host)
	u := &pyUplink{host: h, class: name, call: call}
	var err error
	if u.instance, err = h.load(call, name, cfg); err != nil {
		return nil, true, err
	}
	return u, true, nil
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
	host     *pyHost
	class    string
	call     string // calling convention: "topic" or a connector's
	instance int64  // the host's instance of the class
}

// pyConverterProtocol is the version of the converter host protocol
// (docs/connectors/exec.md).
const pyConverterProtocol = 2

type pyReq struct {
	Type     string          `json:"type"`
	ID       int64           `json:"id"`
	Protocol int             `json:"protocol,omitempty"`
	Instance int64           `json:"instance,omitempty"`
	Class    string          `json:"class,omitempty"`
	Call     string          `json:"call,omitempty"`
	ConnType string          `json:"connectorType,omitempty"`
	Config   json.RawMessage `json:"config,omitempty"`
	Topic    string          `json:"topic,omitempty"`
	JSON     json.RawMessage `json:"json,omitempty"`
	Bytes    string          `json:"bytes,omitempty"`
	Args     json.RawMessage `json:"args,omitempty"`
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
	req := pyReq{Type: "convert", Instance: u.instance, Topic: topic}
	if t := bytes.TrimSpace(payload); len(t) > 0 && json.Valid(t) {
		req.JSON = t
	} else {
		req.Bytes = base64.StdEncoding.EncodeToString(payload)
	}
	return u.convert(&req)
}

// ConvertCall hands args to the class's convert in the connector's calling
// convention (tbgw_calls.py rebuilds upstream's argument objects).
func (u *pyUplink) ConvertCall(args json.RawMessage, nowMs int64) ([]codec.Data, error) {
	return u.convert(&pyReq{Type: "convert", Instance: u.instance, Args: args})
}

// ConvertDownCall runs a downlink converter class (call "modbus-downlink")
// and returns what it returned, as JSON (bytes as {"bytes": base64}).
func (u *pyUplink) ConvertDownCall(args json.RawMessage) (json.RawMessage, error) {
	var res struct {
		Error  string          `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := u.host.call(&pyReq{Type: "convert", Instance: u.instance, Args: args}, &res); err != nil {
		return nil, fmt.Errorf("python converter %s: %w", u.class, err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("python converter %s: %s", u.class, res.Error)
	}
	return res.Result, nil
}

func (u *pyUplink) convert(req *pyReq) ([]codec.Data, error) {
	var res pyConverted
	if err := u.host.call(req, &res); err != nil {
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
// again after it died (the loaded classes are loaded again then). Calls
// are serialised.
type pyHost struct {
	path  string
	mu    sync.Mutex
	cmd   *osexec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	id    int64
	loads []*pyReq // every load so far, replayed into a new process
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

// start runs the host, checks its protocol and loads what was loaded.
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
		in.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		in.Close()
		out.Close()
		return fmt.Errorf("start the Python converter host: %w", err)
	}
	h.cmd, h.in, h.out = cmd, in, bufio.NewReaderSize(out, 1<<20)
	var hello struct {
		Protocol int    `json:"protocol"`
		Error    string `json:"error"`
	}
	if err := h.roundTrip(&pyReq{Type: "hello", Protocol: pyConverterProtocol}, &hello, pyLoadTimeout); err != nil {
		return err
	}
	if hello.Error != "" || hello.Protocol != pyConverterProtocol {
		h.stop()
		return fmt.Errorf("the Python converter host %s speaks protocol %d, not %d: %s", h.path, hello.Protocol, pyConverterProtocol, hello.Error)
	}
	for _, l := range h.loads {
		var res pyConverted
		if err := h.roundTrip(l, &res, pyLoadTimeout); err != nil {
			return err
		}
		if res.Error != "" {
			slog.Error("python converter no longer loads after the host restarted", "class", l.Class, "err", res.Error)
		}
	}
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

// load creates an instance of class in the host and returns its number.
func (h *pyHost) load(call, class string, cfg json.RawMessage) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.ensure(); err != nil {
		return 0, err
	}
	h.id++
	req := &pyReq{Type: "load", Instance: h.id, Class: class, Call: call, Config: cfg}
	if call != "topic" {
		req.ConnType, _, _ = strings.Cut(call, "-") // upstream's extensions folder of that connector ("modbus-downlink": modbus)
	}
	var res pyConverted
	if err := h.roundTrip(req, &res, pyLoadTimeout); err != nil {
		return 0, err
	}
	if res.Error != "" {
		return 0, errors.New(res.Error)
	}
	h.loads = append(h.loads, req)
	return req.Instance, nil
}

func (h *pyHost) ensure() error {
	if h.cmd != nil {
		return nil
	}
	if err := h.start(); err != nil {
		h.stop()
		return err
	}
	return nil
}

func (h *pyHost) call(req *pyReq, res any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.ensure(); err != nil {
		return err
	}
	return h.roundTrip(req, res, pyCallTimeout)
}

// roundTrip sends req with a new id and reads the answer with that id;
// h.mu is held. A host that fails or does not answer in time is stopped.
func (h *pyHost) roundTrip(req *pyReq, res any, timeout time.Duration) error {
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
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			h.stop()
			return fmt.Errorf("the Python converter host failed: %w", r.err)
		}
		return json.Unmarshal(r.line, res)
	case <-timer.C:
		h.stop() // ends the reader goroutine too
		<-done
		return errors.New("no answer from the Python converter host in time")
	}
}
