package gw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/gw/config"
)

// Custom statistics (thingsboard.statistics.enableCustom and the file named
// by statistics.configuration, upstream's statistics.json): commands whose
// output is sent as telemetry of the gateway device under their
// attributeOnGateway key, every customStatsSendPeriodInSeconds (or the
// command's own period). A command is a shell string (run with /bin/sh -c,
// as upstream) or an argument list (run directly); it is killed with its
// process group after its timeout, and its output is cut at
// maxOutputBytes.

const (
	customDefaultTimeout = 10 * time.Second
	customDefaultOutput  = 4096
)

// customCommand is one entry of statistics.json.
type customCommand struct {
	Key        string          `json:"attributeOnGateway"`
	Command    json.RawMessage `json:"command"`
	Timeout    float64         `json:"timeout"`        // seconds
	InstallCmd json.RawMessage `json:"installCmd"`     // run once at start
	Period     float64         `json:"period"`         // seconds; tbgw's own key
	MaxOutput  int             `json:"maxOutputBytes"` // tbgw's own key

	argv []string
	next time.Time
}

// commandArgv turns a command (string or list) into argv.
func commandArgv(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return []string{"/bin/sh", "-c", s}, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil || len(l) == 0 {
		return nil, fmt.Errorf("command must be a string or a list of strings")
	}
	return l, nil
}

// customStatsEnabled: enableCustom, default true when statistics are on.
func (g *Gateway) customStatsEnabled() bool {
	st := g.cfg.ThingsBoard.Statistics
	return config.Enabled(st.EnableCustom, config.Enabled(st.Enable, true)) && st.Configuration != ""
}

// loadCustomStats reads the statistics commands file.
func loadCustomStats(dir, file string) ([]*customCommand, error) {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, file)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cmds, err := loadCustomStatsBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cmds, nil
}

// loadCustomStatsBytes parses and checks a statistics commands list.
func loadCustomStatsBytes(b []byte) ([]*customCommand, error) {
	var cmds []*customCommand
	if err := json.Unmarshal(b, &cmds); err != nil {
		return nil, err
	}
	var err error
	out := cmds[:0]
	for i, c := range cmds {
		if c == nil || c.Key == "" {
			return nil, fmt.Errorf("entry %d: attributeOnGateway missing", i)
		}
		if c.argv, err = commandArgv(c.Command); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Key, err)
		}
		if c.argv != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

func (c *customCommand) timeout() time.Duration {
	if c.Timeout > 0 {
		return time.Duration(c.Timeout * float64(time.Second))
	}
	return customDefaultTimeout
}

// limitedBuffer keeps the first n bytes written and counts the rest.
type limitedBuffer struct {
	b       bytes.Buffer
	n       int
	dropped int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	room := l.n - l.b.Len()
	if room < len(p) {
		l.dropped += len(p) - max(room, 0)
		if room > 0 {
			l.b.Write(p[:room])
		}
		return len(p), nil
	}
	return l.b.Write(p)
}

// runBounded runs argv with a timeout, in its own process group (killed
// whole on timeout), keeping at most maxOut bytes of stdout.
func runBounded(ctx context.Context, dir string, argv []string, timeout time.Duration, maxOut int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out := &limitedBuffer{n: maxOut}
	cmd.Stdout = out
	errOut := &limitedBuffer{n: 512}
	cmd.Stderr = errOut
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return out.b.String(), fmt.Errorf("timed out after %s", timeout)
	}
	if err != nil {
		return out.b.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.b.String()))
	}
	s := out.b.String()
	if out.dropped > 0 {
		s = strings.ToValidUTF8(s, "")
	}
	return s, nil
}

// customValue is upstream's conversion of a command's output: a number
// when it parses as one, else the text (trimmed; upstream keeps the
// trailing newline); empty output sends nothing.
func customValue(out string) (any, bool) {
	s := strings.TrimSpace(out)
	if s == "" {
		return nil, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	return s, true
}

// customStatsLoop runs the commands when due and publishes their values.
// Its one timer is armed for the next due command only.
func (g *Gateway) customStatsLoop(ctx context.Context, cmds []*customCommand) {
	period := time.Duration(g.cfg.ThingsBoard.Statistics.CustomStatsSendPeriodInSeconds) * time.Second
	for _, c := range cmds {
		if len(c.InstallCmd) > 0 {
			if argv, err := commandArgv(c.InstallCmd); err == nil && argv != nil {
				g.log.Info("custom statistics: running installCmd", "key", c.Key)
				if _, err := runBounded(ctx, g.cfg.Dir, argv, c.timeout(), customDefaultOutput); err != nil {
					g.log.Error("custom statistics: installCmd failed", "key", c.Key, "err", err)
				}
			}
		}
	}
	now := time.Now()
	for _, c := range cmds {
		c.next = now // upstream sends a first round at start
	}
	for {
		next := cmds[0].next
		for _, c := range cmds[1:] {
			if c.next.Before(next) {
				next = c.next
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Nothing to send with while disconnected: wait for the link.
		select {
		case <-ctx.Done():
			return
		case <-g.connectedCh():
		}
		now := time.Now()
		vals := map[string]any{}
		for _, c := range cmds {
			if now.Before(c.next) {
				continue
			}
			p := period
			if c.Period > 0 {
				p = time.Duration(c.Period * float64(time.Second))
			}
			c.next = now.Add(p)
			limit := c.MaxOutput
			if limit <= 0 {
				limit = customDefaultOutput
			}
			out, err := runBounded(ctx, g.cfg.Dir, c.argv, c.timeout(), limit)
			if err != nil {
				g.log.Warn("custom statistics: command failed", "key", c.Key, "err", err)
				continue
			}
			if v, ok := customValue(out); ok {
				vals[c.Key] = v
			}
		}
		if len(vals) == 0 {
			continue
		}
		b, _ := json.Marshal(vals)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := g.link.Publish(pctx, TopicOwnTelemetry, b, g.qos, len(vals)); err != nil {
			g.log.Debug("publishing custom statistics", "err", err)
		}
		cancel()
	}
}
