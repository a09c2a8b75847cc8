package logging

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Config is upstream's logs.json (dictConfig) as far as tbgw honours it.
type Config struct {
	Handlers map[string]HandlerSpec `json:"handlers"`
	Loggers  map[string]LoggerSpec  `json:"loggers"`
	Root     *LoggerSpec            `json:"root"`
}

// HandlerSpec is one entry of "handlers".
type HandlerSpec struct {
	Class       string          `json:"class"`
	Level       json.RawMessage `json:"level"`
	Filename    string          `json:"filename"`
	MaxBytes    int64           `json:"maxBytes"`
	BackupCount int             `json:"backupCount"`
	When        string          `json:"when"`
	Interval    int             `json:"interval"`
	Address     json.RawMessage `json:"address"`  // SysLogHandler: "/dev/log" or ["host", port]
	Facility    json.RawMessage `json:"facility"` // SysLogHandler: "local0" or a number
}

// LoggerSpec is one entry of "loggers" (or "root").
type LoggerSpec struct {
	Level     json.RawMessage `json:"level"`
	Handlers  []string        `json:"handlers"`
	Propagate *bool           `json:"propagate"`
}

// Levels beyond slog's: upstream's TRACE and NONE.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelOff   = slog.LevelError + 100
)

// ParseLevel reads a level as logs.json writes it: a name (TRACE, DEBUG,
// INFO, WARNING, ERROR, CRITICAL, NONE/NOTSET = off, as upstream's remote
// configuration maps them) or a Python number (100 = off). Empty means ok
// false.
func ParseLevel(raw json.RawMessage) (slog.Level, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	switch s {
	case "":
		return 0, false, nil
	case "TRACE":
		return LevelTrace, true, nil
	case "DEBUG":
		return slog.LevelDebug, true, nil
	case "INFO":
		return slog.LevelInfo, true, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, true, nil
	case "ERROR":
		return slog.LevelError, true, nil
	case "CRITICAL", "FATAL":
		return slog.LevelError + 4, true, nil
	case "NONE", "NOTSET", "OFF":
		return LevelOff, true, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, fmt.Errorf("unknown log level %s", raw)
	}
	switch {
	case n >= 100:
		return LevelOff, true, nil
	case n > 40:
		return slog.LevelError + 4, true, nil
	case n > 30:
		return slog.LevelError, true, nil
	case n > 20:
		return slog.LevelWarn, true, nil
	case n > 10:
		return slog.LevelInfo, true, nil
	case n > 5:
		return slog.LevelDebug, true, nil
	}
	return LevelTrace, true, nil
}

// handler kinds
const (
	kindConsole = "console"
	kindFile    = "file"
	kindSyslog  = "syslog"
)

// kind maps a Python handler class to what tbgw does with it.
func (h HandlerSpec) kind() (string, error) {
	c := h.Class
	switch {
	case strings.HasSuffix(c, "StreamHandler"):
		return kindConsole, nil
	case strings.HasSuffix(c, "FileHandler"): // FileHandler, RotatingFileHandler, TimedRotatingFileHandler, upstream's own
		if h.Filename == "" {
			return "", fmt.Errorf("%s without filename", c)
		}
		return kindFile, nil
	case strings.HasSuffix(c, "SysLogHandler"):
		return kindSyslog, nil
	}
	return "", fmt.Errorf("handler class %q is not supported (StreamHandler, [Timed]RotatingFileHandler, FileHandler, SysLogHandler are)", c)
}

// Parse reads logs.json. Unsupported handlers are reported in warnings
// and left out; a bad level is an error.
func Parse(b []byte) (*Config, []string, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, nil, fmt.Errorf("logs.json: %w", err)
	}
	var warns []string
	for name, h := range c.Handlers {
		if _, err := h.kind(); err != nil {
			warns = append(warns, fmt.Sprintf("logs.json: handler %s: %v; ignored", name, err))
			delete(c.Handlers, name)
			continue
		}
		if _, _, err := ParseLevel(h.Level); err != nil {
			return nil, nil, fmt.Errorf("logs.json: handler %s: %w", name, err)
		}
		if _, err := parseWhen(h.When, h.Interval); err != nil {
			return nil, nil, fmt.Errorf("logs.json: handler %s: %w", name, err)
		}
	}
	check := func(name string, l *LoggerSpec) error {
		if _, _, err := ParseLevel(l.Level); err != nil {
			return fmt.Errorf("logs.json: logger %s: %w", name, err)
		}
		return nil
	}
	for name, l := range c.Loggers {
		if err := check(name, &l); err != nil {
			return nil, nil, err
		}
	}
	if c.Root != nil {
		if err := check("root", c.Root); err != nil {
			return nil, nil, err
		}
	}
	return &c, warns, nil
}
