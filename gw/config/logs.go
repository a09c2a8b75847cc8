package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec/conf"
)

// LevelTrace and LevelOff extend slog's levels with upstream's TRACE and
// NONE.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelOff   = slog.LevelError + 100
)

// ParseLevel maps an upstream (Python logging) level name or number.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TRACE":
		return LevelTrace, true
	case "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN", "WARNING":
		return slog.LevelWarn, true
	case "ERROR":
		return slog.LevelError, true
	case "CRITICAL", "FATAL":
		return slog.LevelError + 4, true
	case "NONE", "NOTSET_OFF", "OFF":
		return LevelOff, true
	case "NOTSET", "0":
		return LevelTrace, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		// Python numeric levels: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL.
		switch {
		case n <= 5:
			return LevelTrace, true
		case n <= 10:
			return slog.LevelDebug, true
		case n <= 20:
			return slog.LevelInfo, true
		case n <= 30:
			return slog.LevelWarn, true
		case n <= 40:
			return slog.LevelError, true
		default:
			return slog.LevelError + 4, true
		}
	}
	return 0, false
}

type logsFile struct {
	Version                int                        `json:"version"`
	DisableExistingLoggers bool                       `json:"disable_existing_loggers"`
	Formatters             map[string]json.RawMessage `json:"formatters"`
	Handlers               map[string]json.RawMessage `json:"handlers"`
	Loggers                map[string]struct {
		Level     json.RawMessage `json:"level"`
		Handlers  []string        `json:"handlers"`
		Propagate *bool           `json:"propagate"`
	} `json:"loggers"`
	Root *struct {
		Level    json.RawMessage `json:"level"`
		Handlers []string        `json:"handlers"`
	} `json:"root"`
}

// loadLogs reads logs.json if present for the logger levels the core uses
// (the connector default level); the outputs it configures (files,
// syslog) are applied by package gw/logging.
func loadLogs(dir string) (map[string]slog.Level, []error, error) {
	levels := map[string]slog.Level{}
	src, err := os.ReadFile(filepath.Join(dir, "logs.json"))
	if errors.Is(err, os.ErrNotExist) {
		return levels, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("logs.json: %w", err)
	}
	doc, err := conf.Parse("logs.json", src)
	if err != nil {
		return nil, nil, err
	}
	var lf logsFile
	warns, err := doc.Decode(&lf)
	if err != nil {
		return nil, nil, err
	}
	parse := func(path string, raw json.RawMessage) (slog.Level, error) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw)
		}
		lv, ok := ParseLevel(s)
		if !ok {
			return 0, doc.Errorf(path, "unknown log level %s", raw)
		}
		return lv, nil
	}
	for name, l := range lf.Loggers {
		if len(l.Level) == 0 {
			continue
		}
		lv, err := parse("loggers."+name+".level", l.Level)
		if err != nil {
			return nil, nil, err
		}
		levels[name] = lv
	}
	if lf.Root != nil && len(lf.Root.Level) > 0 {
		lv, err := parse("root.level", lf.Root.Level)
		if err != nil {
			return nil, nil, err
		}
		levels["root"] = lv
	}
	return levels, warns, nil
}
