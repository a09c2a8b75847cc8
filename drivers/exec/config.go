package exec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec/conf"
)

// Config is the exec connector's file.
type Config struct {
	Command       []string          `json:"command"`
	WorkingDir    string            `json:"workingDir"`
	Env           map[string]string `json:"env"`
	Config        json.RawMessage   `json:"config"`
	MaxLineBytes  int               `json:"maxLineBytes"`
	QueueSize     int               `json:"queueSize"`
	StopTimeoutMs int               `json:"stopTimeoutMs"`
	RestartMinMs  int               `json:"restartMinMs"`
	RestartMaxMs  int               `json:"restartMaxMs"`
	MaxPendingRPC int               `json:"maxPendingRpc"`
	BatchSize     int               `json:"batchSize"`
}

type settings struct {
	argv        []string
	dir         string
	env         []string
	config      json.RawMessage
	maxLine     int
	queue       int
	stop        time.Duration
	restartMin  time.Duration
	restartMax  time.Duration
	maxPending  int
	batch       int
	requestConc int
	warn        string
}

func compile(doc *conf.Doc, c *Config, configDir string) (settings, error) {
	s := settings{maxLine: 64 << 10, queue: 256, stop: 5 * time.Second, restartMin: time.Second,
		restartMax: time.Minute, maxPending: 256, batch: 256, requestConc: 8}
	if len(c.Command) == 0 || c.Command[0] == "" {
		return s, doc.Errorf("command", `required: the program and its arguments, e.g. ["python3", "reader.py"]`)
	}
	s.argv = append([]string(nil), c.Command...)
	s.dir = configDir
	if c.WorkingDir != "" {
		s.dir = c.WorkingDir
		if !filepath.IsAbs(s.dir) && configDir != "" {
			s.dir = filepath.Join(configDir, s.dir)
		}
	}
	// A relative program path with a slash is relative to the working dir
	// (exec.Cmd resolves it there too); a bare name is looked up in PATH.
	prog := s.argv[0]
	if strings.Contains(prog, "/") {
		if !filepath.IsAbs(prog) {
			prog = filepath.Join(s.dir, prog)
		}
		if st, err := os.Stat(prog); err != nil || st.IsDir() {
			return s, doc.Errorf("command[0]", "program %s not found", s.argv[0])
		}
	} else if _, err := osexec.LookPath(prog); err != nil {
		s.warn = fmt.Sprintf("command[0]: %q is not in PATH now; it must be when the connector starts", prog)
	}
	for k, v := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return s, doc.Errorf("env."+k, "invalid environment variable")
		}
		s.env = append(s.env, k+"="+v)
	}
	if len(c.Config) > 0 {
		var probe any
		if err := json.Unmarshal(c.Config, &probe); err != nil {
			return s, doc.Errorf("config", "%v", err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Config); err == nil {
			s.config = json.RawMessage(buf.Bytes())
		}
	}
	var err error
	if s.maxLine, err = bound(doc, "maxLineBytes", c.MaxLineBytes, s.maxLine, 256, 16<<20); err != nil {
		return s, err
	}
	if s.queue, err = bound(doc, "queueSize", c.QueueSize, s.queue, 1, 65536); err != nil {
		return s, err
	}
	if s.maxPending, err = bound(doc, "maxPendingRpc", c.MaxPendingRPC, s.maxPending, 1, 65536); err != nil {
		return s, err
	}
	if s.batch, err = bound(doc, "batchSize", c.BatchSize, s.batch, 1, 65536); err != nil {
		return s, err
	}
	ms := func(key string, v int, def time.Duration) (time.Duration, error) {
		if v == 0 {
			return def, nil
		}
		if v < 0 || v > 3600_000 {
			return 0, doc.Errorf(key, "must be between 1 and 3600000 ms")
		}
		return time.Duration(v) * time.Millisecond, nil
	}
	if s.stop, err = ms("stopTimeoutMs", c.StopTimeoutMs, s.stop); err != nil {
		return s, err
	}
	if s.restartMin, err = ms("restartMinMs", c.RestartMinMs, s.restartMin); err != nil {
		return s, err
	}
	if s.restartMax, err = ms("restartMaxMs", c.RestartMaxMs, s.restartMax); err != nil {
		return s, err
	}
	if s.restartMax < s.restartMin {
		return s, doc.Errorf("restartMaxMs", "must not be below restartMinMs")
	}
	return s, nil
}

func bound(doc *conf.Doc, key string, v, def, lo, hi int) (int, error) {
	if v == 0 {
		return def, nil
	}
	if v < lo || v > hi {
		return 0, doc.Errorf(key, "must be between %d and %d", lo, hi)
	}
	return v, nil
}
