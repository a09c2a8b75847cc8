package snmp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// agent is a net-snmp snmpd on a random 127.0.0.1 UDP port, with the
// communities and SNMPv3 users below.
type agent struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

const agentConf = `agentAddress udp:127.0.0.1:%d
rocommunity public 127.0.0.1
rwcommunity private 127.0.0.1
sysName probe-snmpd
dontLogTCPWrappersConnects yes
createUser authPrivUser SHA "authpass123" AES "privpass123"
createUser authOnlyUser MD5 "authpass456"
createUser sha256User SHA-256 "authpass789" AES-256 "privpass789"
createUser desUser SHA "authpass000" DES "privpass000"
createUser noAuthUser
rwuser authPrivUser priv
rouser authOnlyUser auth
rouser sha256User priv
rouser desUser priv
rouser noAuthUser noauth
`

func snmpdPath() string {
	if p, err := exec.LookPath("snmpd"); err == nil {
		return p
	}
	return "/usr/sbin/snmpd"
}

// requireTools skips (or fails under TBGW_REQUIRE_PEERS=1) without net-snmp.
func requireTools(t testing.TB) {
	t.Helper()
	_, err := os.Stat(snmpdPath())
	ok := err == nil
	for _, tool := range []string{"snmpget", "snmpset", "snmpwalk", "snmptrap", "snmpinform"} {
		if _, err := exec.LookPath(tool); err != nil {
			ok = false
		}
	}
	drivertest.RequirePeer(t, ok, "net-snmp (snmpd, snmp)")
}

// startAgent runs snmpd until the test ends.
func startAgent(t testing.TB) *agent {
	t.Helper()
	requireTools(t)
	a := &agent{t: t, dir: t.TempDir(), port: drivertest.FreeUDPPort(t)}
	conf := fmt.Sprintf(agentConf, a.port)
	if err := os.WriteFile(filepath.Join(a.dir, "snmpd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start()
	t.Cleanup(a.stop)
	return a
}

func (a *agent) env() []string {
	return append(os.Environ(), "MIBS=", "SNMP_PERSISTENT_DIR="+filepath.Join(a.dir, "persist"),
		"SNMPCONFPATH="+filepath.Join(a.dir, "toolconf"), "HOME="+a.dir)
}

// start runs snmpd in its own process group and waits until it answers.
func (a *agent) start() {
	a.t.Helper()
	a.cmd = exec.Command(snmpdPath(), "-f", "-Lf", filepath.Join(a.dir, "snmpd.log"), "-C",
		"-c", filepath.Join(a.dir, "snmpd.conf"), "-p", filepath.Join(a.dir, "snmpd.pid"))
	a.cmd.Env = a.env()
	a.cmd.Dir = a.dir
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		a.t.Fatalf("snmpd: %v", err)
	}
	a.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(a.cmd, a.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := a.tool("snmpget", "-t", "0.2", "-r", "0", "-Oqv", "-v2c", "-c", "public", a.addr(), "1.3.6.1.2.1.1.5.0")
		if err == nil && strings.Contains(out, "probe-snmpd") {
			return
		}
		select {
		case <-a.done:
			log, _ := os.ReadFile(filepath.Join(a.dir, "snmpd.log"))
			a.t.Fatalf("snmpd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			a.stop()
			a.t.Fatalf("snmpd does not answer on %s: %v %s", a.addr(), err, out)
		}
	}
}

// stop terminates snmpd's process group and waits for it.
func (a *agent) stop() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	pgid := a.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-a.done
	}
	a.cmd = nil
}

func (a *agent) addr() string { return fmt.Sprintf("127.0.0.1:%d", a.port) }

// tool runs a net-snmp command line tool with a bounded run time.
func (a *agent) tool(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = a.env()
	cmd.Dir = a.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// get reads one value with snmpget as text (-Oqv, quotes removed).
func (a *agent) get(oid string) string {
	a.t.Helper()
	out, err := a.tool("snmpget", "-Oqv", "-v2c", "-c", "public", a.addr(), oid)
	if err != nil {
		a.t.Fatalf("snmpget %s: %v %s", oid, err, out)
	}
	return strings.Trim(out, `"`)
}

// walk returns snmpwalk's view of a subtree: OID (no leading dot) -> text.
func (a *agent) walk(oid string) (map[string]string, []string) {
	a.t.Helper()
	out, err := a.tool("snmpwalk", "-Oqn", "-v2c", "-c", "public", a.addr(), oid)
	if err != nil {
		a.t.Fatalf("snmpwalk %s: %v %s", oid, err, out)
	}
	m := map[string]string{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, " ")
		k = strings.TrimPrefix(k, ".")
		m[k] = strings.Trim(v, `"`)
		order = append(order, k)
	}
	return m, order
}
