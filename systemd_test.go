package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// unitDir writes etc/systemd/tbgw.service (and the OTA drop-in, if ota)
// into a unit directory with the binary paths replaced by an existing
// executable (verify checks that ExecStart can run). systemd-analyze
// applies the drop-in from there (a bad key in it fails verify).
func unitDir(t *testing.T, ota bool) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fix := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("/usr/bin/tbgw", exe, "/opt/tbgw/bin/tbgw", exe).Replace(string(b))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fix(filepath.Join("etc", "systemd", "tbgw.service"), filepath.Join(dir, "tbgw.service"))
	if ota {
		fix(filepath.Join("etc", "systemd", "tbgw-ota.conf"), filepath.Join(dir, "tbgw.service.d", "ota.conf"))
	}
	return dir
}

func analyze(t *testing.T, tool, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	// The unit directory first: its drop-ins apply.
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSystemdUnit checks the unit with systemd-analyze (verify, and the
// offline security exposure, reported), alone and with the OTA drop-in,
// and that it restarts on runtime errors but not on configuration errors.
func TestSystemdUnit(t *testing.T) {
	tool := drivertest.RequireTool(t, "systemd-analyze")
	raw, err := os.ReadFile(filepath.Join("etc", "systemd", "tbgw.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{
		"\nType=notify\n", "\nWatchdogSec=", "\nUser=tbgw\n", "\nStateDirectory=tbgw\n", "\nRuntimeDirectory=tbgw\n",
		"\nEnvironmentFile=-/etc/default/tbgw\n", "\nRestart=on-failure\n",
		"\nRestartPreventExitStatus=2 " + strconv.Itoa(exitConfig) + "\n",
		"TB_GW_STATUS_SOCKET=" + defaultStatusSocket, "TB_GW_DATA_DIR=" + defaultDataDir,
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	score := regexp.MustCompile(`Overall exposure level for tbgw.service: ([0-9.]+) (\S+)`)
	for _, ota := range []bool{false, true} {
		dir := unitDir(t, ota)
		unitPath := filepath.Join(dir, "tbgw.service")
		if out, err := analyze(t, tool, dir, "verify", unitPath); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify (OTA drop-in %v): %v\n%s", ota, err, out)
		}
		out, _ := analyze(t, tool, dir, "security", "--offline=true", unitPath)
		m := score.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no exposure level in:\n%s", out)
		}
		t.Logf("systemd-analyze security (OTA drop-in %v): %s %s", ota, m[1], m[2])
		if v, _ := strconv.ParseFloat(m[1], 64); v > 3.0 {
			t.Errorf("exposure %s above 3.0:\n%s", m[1], out)
		}
	}
}
