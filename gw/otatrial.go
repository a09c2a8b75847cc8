package gw

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The trial of a new binary after an over-the-air update. The old
// process, its gateway stopped, runs the new binary as a child with a pipe
// on fd 3 (TrialFDEnv). The child runs the gateway as usual and writes what
// it waits for ("waiting: not connected to ThingsBoard", ...) and "ok" once
// it is connected to ThingsBoard with every configured connector running.
// Then the parent stops the child, deletes the previous binary and
// re-executes itself into the new binary, which reports UPDATED. If the
// child exits, or is not healthy within the bound, the parent kills it,
// restores the previous binary and re-executes into it, which reports
// FAILED with the reason. The process ID stays the service manager's
// throughout; a new binary that crashes at once cannot strand the device.

// TrialFDEnv names the environment variable that tells a child it runs on
// trial and which descriptor to report on.
const TrialFDEnv = "TB_GW_OTA_TRIAL_FD"

// DefaultHealthCheck bounds a trial unless thingsboard.ota.healthCheckSeconds
// says otherwise.
const DefaultHealthCheck = 120 * time.Second

func newInstanceID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// trialHealth reports the trial child's health to its parent.
func (g *Gateway) trialHealth(ctx context.Context) {
	w := g.opts.Trial
	defer w.Close()
	last := ""
	t := time.NewTicker(200 * time.Millisecond) // only for the trial's length
	defer t.Stop()
	for {
		why := g.unhealthy()
		if why == "" {
			fmt.Fprintln(w, "ok")
			g.log.Info("firmware update: healthy on trial")
			return
		}
		if why != last {
			fmt.Fprintln(w, "waiting: "+why)
			last = why
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unhealthy says what keeps the gateway from being healthy, "" if nothing.
func (g *Gateway) unhealthy() string {
	if !g.link.Connected() {
		return "not connected to ThingsBoard"
	}
	g.runMu.Lock()
	defer g.runMu.Unlock()
	for _, c := range g.cfg.Connectors {
		r := g.running[c.Name]
		if r == nil {
			return fmt.Sprintf("connector %q not started", c.Name)
		}
		r.liveMu.Lock()
		live := r.liveCtx != nil && r.liveCtx.Err() == nil
		r.liveMu.Unlock()
		if !live {
			return fmt.Sprintf("connector %q not running", c.Name)
		}
	}
	return ""
}

// Trial describes the trial run of an installed binary.
type Trial struct {
	Exe     string   // the executable (the new binary)
	Args    []string // its arguments (os.Args[1:])
	Env     []string // its environment (os.Environ())
	DataDir string   // where the pending-update marker is
	Bound   time.Duration
	Log     *slog.Logger
}

// TrialPending reports whether an installed binary awaits its trial (also
// after the process running a trial died, e.g. on power loss).
func TrialPending(dataDir string) bool {
	m, ok := readMarker(dataDir)
	return ok && m.State == "trial"
}

// RunTrial runs the new binary on trial and commits or rolls it back; in
// both cases the caller then re-executes Exe. The returned error is the
// reason of a rollback (nil after a commit).
func RunTrial(ctx context.Context, tr Trial) error {
	m, ok := readMarker(tr.DataDir)
	if !ok || m.State != "trial" {
		return errors.New("no update on trial")
	}
	if tr.Bound <= 0 {
		tr.Bound = DefaultHealthCheck
	}
	tr.Log.Info("firmware update: running the new binary on trial", "version", m.Version, "bound", tr.Bound)
	reason := trialRun(ctx, tr)
	if reason == "" {
		m.State = "committed"
		if err := writeMarker(tr.DataDir, m); err != nil {
			tr.Log.Error("firmware update: recording the commit", "err", err)
		}
		if m.Prev != "" {
			os.Remove(m.Prev)
		}
		tr.Log.Info("firmware update: committed", "version", m.Version)
		return nil
	}
	tr.Log.Error("firmware update: rolling back", "version", m.Version, "reason", reason)
	if m.Prev != "" {
		if err := os.Rename(m.Prev, tr.Exe); err != nil {
			reason += "; restoring the previous binary failed: " + err.Error()
		} else {
			syncDir(filepath.Dir(tr.Exe))
		}
	}
	m.State, m.Reason = "failed", reason
	if err := writeMarker(tr.DataDir, m); err != nil {
		tr.Log.Error("firmware update: recording the rollback", "err", err)
	}
	return errors.New(reason)
}

// trialRun runs the child and returns why it failed ("" when healthy).
func trialRun(ctx context.Context, tr Trial) string {
	r, w, err := os.Pipe()
	if err != nil {
		return "trial: " + err.Error()
	}
	defer r.Close()
	cmd := exec.Command(tr.Exe, tr.Args...)
	env := make([]string, 0, len(tr.Env)+1)
	for _, e := range tr.Env {
		// The service manager talks to the parent only.
		if !strings.HasPrefix(e, TrialFDEnv+"=") && !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, TrialFDEnv+"=3")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		return "new binary does not start: " + err.Error()
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string, 16)
	quit := make(chan struct{})
	defer close(quit) // before r.Close (defers run last first): the reader ends either way
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			cmd.Process.Kill()
			<-exited
		}
	}
	bound := time.NewTimer(tr.Bound)
	defer bound.Stop()
	waiting := "no report from the new binary"
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil // pipe closed: wait for the exit or the bound
				continue
			}
			if l == "ok" {
				stop()
				return ""
			}
			waiting = strings.TrimPrefix(l, "waiting: ")
		case err := <-exited:
			if err == nil {
				err = errors.New("exit status 0")
			}
			// The last report may still be in the pipe.
			drain := time.NewTimer(time.Second)
		read:
			for lines != nil {
				select {
				case l, ok := <-lines:
					if !ok {
						break read
					}
					if l != "ok" {
						waiting = strings.TrimPrefix(l, "waiting: ")
					}
				case <-drain.C:
					break read
				}
			}
			drain.Stop()
			return fmt.Sprintf("new binary exited during its health check (%v); last state: %s", err, waiting)
		case <-bound.C:
			stop()
			return fmt.Sprintf("new binary not healthy within %v: %s", tr.Bound, waiting)
		case <-ctx.Done():
			stop()
			return "trial interrupted by a stop of the gateway"
		}
	}
}
