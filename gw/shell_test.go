package gw

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// startUp starts the gateway and waits until it has announced itself.
func startUp(r *rig) {
	r.t.Helper()
	r.start()
	r.tb.WaitAttribute(tbtest.Self, "Version", nil, 15*time.Second)
}

func rpcJSON(t *testing.T, r *rig, method string, params any) map[string]any {
	t.Helper()
	raw, err := r.tb.GatewayRPC(method, params, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: reply %s: %v", method, raw, err)
	}
	return m
}

// runShell sends a command and collects its output until done.
func runShell(t *testing.T, r *rig, cmd string) (string, map[string]any) {
	t.Helper()
	if res := rpcJSON(t, r, "sendCommand", map[string]any{"command": cmd}); res["ok"] != true {
		return "", res
	}
	var out strings.Builder
	var last map[string]any
	ok := r.tb.Await(20*time.Second, func() bool {
		last = rpcJSON(t, r, "getCommandStatus", nil)
		for _, d := range last["data"].([]any) {
			out.WriteString(d.(map[string]any)["stdout"].(string))
		}
		return last["done"] == true
	})
	if !ok {
		t.Fatalf("%q: not done", cmd)
	}
	return out.String(), last
}

func TestRemoteShellOffByDefault(t *testing.T) {
	r := newRig(t, map[string]any{}, nil)
	startUp(r)
	for _, m := range []string{"getTermInfo", "sendCommand", "getCommandStatus", "terminateCommand"} {
		res := rpcJSON(t, r, m, map[string]any{"command": "id"})
		if res["code"] != 403.0 || !strings.Contains(res["error"].(string), "remoteShell") {
			t.Fatalf("%s with the shell off: %v", m, res)
		}
	}
}

func TestRemoteShell(t *testing.T) {
	r := newRig(t, map[string]any{"thingsboard": map[string]any{"remoteShell": true,
		"remoteShellOptions": map[string]any{"timeoutSeconds": 2, "maxOutputBytes": 100}}}, nil)
	startUp(r)
	info := rpcJSON(t, r, "getTermInfo", nil)
	if info["platform"] != "Linux" || info["release"] == "" || info["cwd"] == "" {
		t.Fatalf("getTermInfo: %v", info)
	}
	out, st := runShell(t, r, "echo hello; echo oops >&2")
	if !strings.Contains(out, "hello") || !strings.Contains(out, "oops") {
		t.Fatalf("output %q", out)
	}
	dir := t.TempDir()
	if res := rpcJSON(t, r, "sendCommand", map[string]any{"command": "cd " + dir}); res["ok"] != true {
		t.Fatalf("cd: %v", res)
	}
	out, st = runShell(t, r, "pwd")
	if strings.TrimSpace(out) != dir || st["cwd"] != dir {
		t.Fatalf("pwd after cd: %q, cwd %v", out, st["cwd"])
	}
	// Output cap.
	out, _ = runShell(t, r, "yes | head -c 5000")
	if !strings.Contains(out, "bytes of output dropped") || len(out) > 300 {
		t.Fatalf("output not capped: %d bytes", len(out))
	}
	// Timeout.
	start := time.Now()
	out, _ = runShell(t, r, "sleep 30")
	if !strings.Contains(out, "stopped after") || time.Since(start) > 15*time.Second {
		t.Fatalf("timeout: %q after %v", out, time.Since(start))
	}
	// Terminate.
	if res := rpcJSON(t, r, "sendCommand", map[string]any{"command": "sleep 30"}); res["ok"] != true {
		t.Fatal(res)
	}
	if res := rpcJSON(t, r, "terminateCommand", nil); res["ok"] != true {
		t.Fatalf("terminate: %v", res)
	}
	r.tb.Wait(10*time.Second, "terminated command done", func() bool { return rpcJSON(t, r, "getCommandStatus", nil)["done"] == true })
	if res := rpcJSON(t, r, "terminateCommand", nil); res["ok"] != false || res["error"] == nil {
		t.Fatalf("terminate without a command: %v", res)
	}
}

func TestRemoteShellAllowList(t *testing.T) {
	r := newRig(t, map[string]any{"thingsboard": map[string]any{"remoteShell": true,
		"remoteShellOptions": map[string]any{"allow": []string{"echo"}}}}, nil)
	startUp(r)
	out, _ := runShell(t, r, "echo a; id")
	if strings.TrimSpace(out) != "a; id" {
		t.Fatalf("allow-listed command ran through a shell: %q", out)
	}
	if _, res := runShell(t, r, "id"); res["ok"] != false || !strings.Contains(res["error"].(string), "not allowed") {
		t.Fatalf("command outside the allow-list: %v", res)
	}
}

func TestGatewayCommandRPCs(t *testing.T) {
	scripts := t.TempDir()
	marker := filepath.Join(t.TempDir(), "rebooted")
	os.WriteFile(filepath.Join(scripts, "hello"), []byte("#!/bin/sh\necho \"hi from $TB_GW_RPC_METHOD\"\n"), 0o755)
	os.WriteFile(filepath.Join(scripts, "broken"), []byte("#!/bin/sh\necho bad input >&2\nexit 3\n"), 0o755)
	os.WriteFile(filepath.Join(scripts, "notexec"), []byte("#!/bin/sh\necho no\n"), 0o644)
	r := newRig(t, map[string]any{"thingsboard": map[string]any{"rpcCommands": map[string]any{
		"reboot":    []string{"sh", "-c", "echo done > " + marker},
		"methods":   map[string]any{"echo": []string{"cat"}},
		"directory": scripts,
	}}}, nil)
	startUp(r)

	if res := rpcJSON(t, r, "gateway_echo", map[string]any{"a": 1.0}); res["a"] != 1.0 {
		t.Fatalf("gateway_echo: %v", res)
	}
	if res := rpcJSON(t, r, "gateway_hello", nil); res["code"] != 200.0 || res["resp"] != "hi from hello" {
		t.Fatalf("gateway_hello: %v", res)
	}
	if res := rpcJSON(t, r, "gateway_broken", nil); res["code"] != 500.0 || !strings.Contains(res["error"].(string), "bad input") {
		t.Fatalf("gateway_broken: %v", res)
	}
	for _, m := range []string{"gateway_notexec", "gateway_missing", "gateway_..%2fetc"} {
		if res := rpcJSON(t, r, m, nil); res["code"] != 404.0 {
			t.Fatalf("%s: %v", m, res)
		}
	}

	// Provisioned credentials: 404 without, 200 and gone with.
	if res := rpcJSON(t, r, "gateway_remove_provisioned_credentials", nil); res["code"] != 404.0 {
		t.Fatalf("remove without credentials: %v", res)
	}
	cred := filepath.Join(r.dir, CredentialsFile)
	os.WriteFile(cred, []byte(`{"credentialsType":"ACCESS_TOKEN","credentialsValue":"x"}`), 0o600)
	if res := rpcJSON(t, r, "gateway_remove_provisioned_credentials", nil); res["code"] != 200.0 {
		t.Fatalf("remove: %v", res)
	}
	if _, err := os.Stat(cred); !os.IsNotExist(err) {
		t.Fatalf("credentials still there: %v", err)
	}

	if res := rpcJSON(t, r, "gateway_reboot", 1); res["success"] != true {
		t.Fatalf("gateway_reboot: %v", res)
	}
	r.tb.Wait(10*time.Second, "reboot command run", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
}

func TestGatewayRebootOffByDefault(t *testing.T) {
	r := newRig(t, map[string]any{}, nil)
	startUp(r)
	if res := rpcJSON(t, r, "gateway_reboot", nil); res["code"] != 403.0 {
		t.Fatalf("gateway_reboot unconfigured: %v", res)
	}
	if res := rpcJSON(t, r, "gateway_whatever", nil); res["code"] != 404.0 {
		t.Fatalf("unknown method: %v", res)
	}
}
