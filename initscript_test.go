package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/health"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// initScript runs etc/init.d/S95tbgw under BusyBox's sh with BusyBox's
// start-stop-daemon and logger (scripts/peers/busybox.sh installs
// busybox-static), its paths set by the defaults file it reads.
type initScript struct {
	t        *testing.T
	busybox  string
	env      []string
	run, log string
}

func newInitScript(t *testing.T, bin, confDir string, logFile bool) *initScript {
	busybox := drivertest.RequireTool(t, "busybox")
	root := t.TempDir()
	binDir := filepath.Join(root, "bin")
	os.Mkdir(binDir, 0o755)
	applets := []string{"start-stop-daemon", "mkfifo", "readlink"}
	if logFile {
		applets = append(applets, "logger")
	}
	for _, applet := range applets {
		if err := os.Symlink(busybox, filepath.Join(binDir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	s := &initScript{t: t, busybox: busybox, run: filepath.Join(root, "run"), log: filepath.Join(root, "tbgw.log")}
	logTo := "" // syslog through logger
	if logFile {
		logTo = s.log
	}
	user := strconv.Itoa(os.Getuid())
	if out, err := exec.Command("id", "-un").Output(); err == nil {
		user = strings.TrimSpace(string(out))
	}
	defaults := filepath.Join(root, "default")
	os.WriteFile(defaults, []byte(strings.Join([]string{
		"DAEMON=" + bin,
		"RUNDIR=" + s.run,
		"USER=" + user,
		"TB_GW_CONFIG_DIR=" + confDir,
		"TB_GW_DATA_DIR=" + filepath.Join(root, "data"),
		"TBGW_LOGFILE=" + logTo,
		`TBGW_OPTS="-log-format json"`,
	}, "\n")+"\n"), 0o644)
	s.env = append(os.Environ(), "TBGW_DEFAULTS="+defaults, "PATH="+binDir+":"+os.Getenv("PATH"))
	t.Cleanup(func() { s.do("stop") })
	return s
}

// do runs the script with one command and returns its exit code and output.
func (s *initScript) do(cmd string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, s.busybox, "sh", filepath.Join("etc", "init.d", "S95tbgw"), cmd)
	c.Env = s.env
	out, err := c.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("S95tbgw %s: %v", cmd, err)
	}
	s.t.Logf("S95tbgw %s: exit %d: %s", cmd, code, strings.TrimSpace(string(out)))
	return code, string(out)
}

func (s *initScript) pid() int {
	b, _ := os.ReadFile(filepath.Join(s.run, "tbgw.pid"))
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// alive reports whether pid runs (a zombie left for init to reap does not).
func alive(pid int) bool {
	_, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return pid > 0 && err == nil
}

// TestInitScript: start, status, restart while the gateway drains (its
// messages unacknowledged, so the old one takes its drain time to exit),
// stop, and a configuration error reported by start; logs kept in a file.
func TestInitScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := gwDir(t, b, memoryStorage, simConfig(2, 50))
	s := newInitScript(t, bin, dir, true)

	if code, out := s.do("start"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("start: exit %d: %s", code, out)
	}
	first := s.pid()
	if code, out := s.do("status"); code != 0 || !strings.Contains(out, "tbgw is running (pid "+strconv.Itoa(first)+")") || !strings.Contains(out, "Simulator") {
		t.Fatalf("status: exit %d: %s", code, out)
	}
	tb.WaitTelemetry("Sim Device 2", "counter", func(v any) bool { return v.(float64) >= 3 }, 20*time.Second)
	if code, out := s.do("start"); code != 0 || !strings.Contains(out, "already running") || s.pid() != first {
		t.Fatalf("second start: exit %d: %s", code, out)
	}

	// ThingsBoard stops acknowledging: events queue up and the gateway,
	// told to stop, drains for its bound before it exits.
	b.DropPublishes(true)
	sock := filepath.Join(s.run, "status.sock")
	drivertest.Eventually(t, 20*time.Second, "a queue of unacknowledged events", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := health.Fetch(ctx, sock)
		return err == nil && st.QueueDepth > 0
	})
	if code, out := s.do("restart"); code != 0 || !strings.Contains(out, "Stopping tbgw: OK") || !strings.Contains(out, "Starting tbgw: OK") {
		t.Fatalf("restart: exit %d: %s", code, out)
	}
	second := s.pid()
	if second == first || alive(first) || !alive(second) {
		t.Fatalf("restart: old pid %d (alive %v), new pid %d (alive %v)", first, alive(first), second, alive(second))
	}
	// The old gateway's last line comes before the new one's first.
	logs, _ := os.ReadFile(s.log)
	stopped := strings.Index(string(logs), `"msg":"stopped"`)
	restarted := strings.LastIndex(string(logs), `"msg":"tbgw started"`)
	if stopped < 0 || restarted < stopped || !strings.Contains(string(logs), `"msg":"stopping"`) {
		t.Fatalf("log file: stopped at %d, second start at %d:\n%s", stopped, restarted, logs)
	}
	b.DropPublishes(false)

	if code, out := s.do("stop"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	if alive(second) {
		t.Fatalf("pid %d alive after stop", second)
	}
	if code, out := s.do("status"); code != 3 || !strings.Contains(out, "not running") {
		t.Fatalf("status after stop: exit %d: %s", code, out)
	}
	if code, _ := s.do("stop"); code != 0 {
		t.Fatal("stop of a stopped gateway failed")
	}

	// A configuration error: start says so, the reason is in the log.
	os.WriteFile(filepath.Join(dir, "tb_gateway.json"), []byte(`{"thingsboard": {"host": "h", "qos": "one"}}`), 0o644)
	if code, out := s.do("start"); code == 0 || !strings.Contains(out, "FAIL") {
		t.Fatalf("start with a bad configuration: exit %d: %s", code, out)
	}
	if logs, _ := os.ReadFile(s.log); !strings.Contains(string(logs), "thingsboard.qos") {
		t.Fatalf("configuration error not logged:\n%s", logs)
	}
}

// TestInitScriptSyslog: without TBGW_LOGFILE the gateway's output goes
// through the pipe to logger (here a stand-in recording its arguments and
// input: syslogd would take over the machine's /dev/log) until it exits.
func TestInitScriptSyslog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := simDir(t)
	s := newInitScript(t, bin, dir, false)
	syslog := filepath.Join(t.TempDir(), "syslog")
	shim := filepath.Join(filepath.Dir(s.run), "bin", "logger")
	os.WriteFile(shim, []byte("#!/bin/sh\necho \"logger $*\" >>"+syslog+"\nexec cat >>"+syslog+"\n"), 0o755)
	if code, out := s.do("start"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("start: exit %d: %s", code, out)
	}
	drivertest.Eventually(t, 20*time.Second, "the start logged through logger", func() bool {
		b, _ := os.ReadFile(syslog)
		return strings.Contains(string(b), "logger -t tbgw -p daemon.info\n") && strings.Contains(string(b), `"msg":"tbgw started"`)
	})
	if code, out := s.do("stop"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	drivertest.Eventually(t, 20*time.Second, "the last line logged", func() bool {
		b, _ := os.ReadFile(syslog)
		return strings.Contains(string(b), `"msg":"stopped"`)
	})
}
