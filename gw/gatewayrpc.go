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
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Gateway RPCs that act on the machine (tb-gateway 8.2): gateway_reboot
// runs the configured reboot command, gateway_remove_provisioned_credentials
// deletes the credentials provisioning stored, and gateway_<custom> runs a
// configured command (thingsboard.rpcCommands.methods, or an executable
// named <custom> in rpcCommands.directory) in place of upstream's
// rpc/*.py functions: the params arrive as JSON on stdin, stdout that is
// JSON is the reply, other output becomes {"code":200,"resp":"<output>"},
// and a failing command answers {"code":500,"error":...}.

const (
	rpcCmdDefaultTimeout = 30 * time.Second
	rpcCmdMaxOutput      = 64 << 10
)

var customMethodName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`) })

// rebootRPC answers gateway_reboot and runs the reboot command after the
// delay in params (seconds, at least 1).
func (g *Gateway) rebootRPC(ctx context.Context, params json.RawMessage) any {
	argv := g.cfg.ThingsBoard.RPCCommands.Reboot
	if len(argv) == 0 {
		return map[string]any{"error": "gateway_reboot is disabled on this gateway (set thingsboard.rpcCommands.reboot to the reboot command)", "code": 403}
	}
	delay := time.Second
	var secs float64
	if json.Unmarshal(params, &secs) == nil && secs > 1 {
		delay = time.Duration(secs * float64(time.Second))
	}
	g.log.Warn("reboot requested by ThingsBoard", "command", strings.Join(argv, " "), "in", delay)
	g.spawn(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), rpcCmdDefaultTimeout)
		defer cancel()
		out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			g.log.Error("reboot command failed", "command", strings.Join(argv, " "), "err", err, "output", strings.TrimSpace(string(out)))
		}
	})
	return map[string]any{"success": true}
}

// credentialPaths are where provisioned credentials may be: the data
// directory (where tbgw writes them) and the configuration directory
// (where upstream does).
func (g *Gateway) credentialPaths() []string {
	p := []string{filepath.Join(g.opts.DataDir, CredentialsFile)}
	if c := filepath.Join(g.cfg.Dir, CredentialsFile); c != p[0] {
		p = append(p, c)
	}
	return p
}

func (g *Gateway) removeCredentialsRPC() any {
	g.log.Info("remove provisioned credentials requested by ThingsBoard")
	found := false
	for _, p := range g.credentialPaths() {
		err := os.Remove(p)
		switch {
		case err == nil:
			found = true
		case errors.Is(err, os.ErrNotExist):
		default:
			g.log.Error("removing provisioned credentials", "file", p, "err", err)
			return map[string]any{"code": 500, "error": err.Error()}
		}
	}
	if !found {
		return map[string]any{"code": 404, "message": "Provisioned credentials file does not exist."}
	}
	g.log.Info("provisioned credentials removed; the next start provisions again")
	return map[string]any{"code": 200, "resp": "Provisioned credentials file removed successfully."}
}

// customCommand finds the command behind gateway_<name>.
func (g *Gateway) customCommand(name string) []string {
	rc := g.cfg.ThingsBoard.RPCCommands
	if argv, ok := rc.Methods[name]; ok && len(argv) > 0 {
		return argv
	}
	if rc.Directory == "" || !customMethodName().MatchString(name) {
		return nil
	}
	dir := rc.Directory
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(g.cfg.Dir, dir)
	}
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return nil
	}
	return []string{p}
}

// customRPC runs gateway_<name>; ok is false when no command is configured.
func (g *Gateway) customRPC(ctx context.Context, name string, params json.RawMessage) (any, bool) {
	argv := g.customCommand(name)
	if argv == nil {
		return nil, false
	}
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	timeout := rpcCmdDefaultTimeout
	if s := g.cfg.ThingsBoard.RPCCommands.TimeoutSeconds; s > 0 {
		timeout = time.Duration(s) * time.Second
	}
	g.log.Info("gateway RPC command", "method", "gateway_"+name, "command", strings.Join(argv, " "), "params", string(params))
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(params)
	cmd.Env = append(os.Environ(), "TB_GW_RPC_METHOD="+name)
	cmd.Dir = g.cfg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	stdout := &capBuffer{max: rpcCmdMaxOutput}
	stderr := &capBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	out, _, dropped := stdout.since(0)
	errText, _, _ := stderr.since(0)
	if err != nil {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no result within %v", timeout)
		}
		g.log.Warn("gateway RPC command failed", "method", "gateway_"+name, "err", err, "stderr", strings.TrimSpace(errText))
		msg := err.Error()
		if t := strings.TrimSpace(errText); t != "" {
			msg += ": " + t
		}
		return map[string]any{"code": 500, "error": msg}, true
	}
	if dropped > 0 {
		return map[string]any{"code": 500, "error": fmt.Sprintf("output larger than %d bytes", rpcCmdMaxOutput)}, true
	}
	out = strings.TrimSpace(out)
	if out != "" && json.Valid([]byte(out)) {
		return json.RawMessage(out), true
	}
	return map[string]any{"code": 200, "resp": out}, true
}

// CredentialsFile holds the credentials provisioning obtained (0600, in
// the data directory), as upstream's .credentials.
const CredentialsFile = ".credentials"

// startRemoteOps starts the trial health report (new binary on trial)
// and the remote shell (when enabled), whose command it stops when ctx
// ends.
func (g *Gateway) startRemoteOps(ctx context.Context) {
	g.ota.base.Store(&ctx)
	if s := g.cfg.ThingsBoard.Security; s != nil && (s.Cert != "" || s.CACert != "") && g.opts.Trial == nil {
		g.spawn(func() { g.certWatch(ctx) })
	}
	if g.opts.Trial != nil {
		g.spawn(func() { g.trialHealth(ctx) })
	}
	if g.cfg.ThingsBoard.RemoteShell {
		g.log.Warn("remote shell is enabled: ThingsBoard users with RPC rights can run commands as this gateway's user",
			"allow", g.cfg.ThingsBoard.RemoteShellOptions.Allow)
		g.spawn(func() {
			<-ctx.Done()
			g.shellOnce.Do(func() {}) // no shell from now on
			if g.shell != nil {
				g.shell.close()
			}
		})
	}
}
