package tbtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequirePeer skips the test when the external program name is missing,
// or fails it when TBGW_REQUIRE_PEERS=1.
func RequirePeer(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} { // not on every PATH
		if st, e := os.Stat(filepath.Join(dir, name)); e == nil && st.Mode()&0o111 != 0 {
			return filepath.Join(dir, name)
		}
	}
	if os.Getenv("TBGW_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s not installed (scripts/peers/ installs it): %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}

// MosquittoOption configures StartMosquitto.
type MosquittoOption func(*Mosquitto)

// MosquittoTLS adds a TLS listener (TLSPort) with the PKI's server
// certificate; with requireClientCert, clients must present a certificate
// of the PKI's CA and its common name becomes the MQTT user name.
func MosquittoTLS(p *PKI, requireClientCert bool) MosquittoOption {
	return func(m *Mosquitto) { m.pki, m.requireCert = p, requireClientCert }
}

// MosquittoUsers adds a listener (AuthPort) that admits only these
// user name/password pairs.
func MosquittoUsers(users map[string]string) MosquittoOption {
	return func(m *Mosquitto) { m.users = users }
}

// Mosquitto is a real mosquitto broker process on 127.0.0.1. Port is an
// anonymous plain listener (for the stand-in); TLSPort and AuthPort exist
// with the matching options. Stop kills the process; Start runs it again on
// the same ports.
type Mosquitto struct {
	t                       testing.TB
	Host                    string
	Port, TLSPort, AuthPort int
	pki                     *PKI
	requireCert             bool
	users                   map[string]string
	dir                     string
	bin                     string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the process's output copier and
// a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartMosquitto starts mosquitto (skipping the test, or failing it under
// TBGW_REQUIRE_PEERS=1, when it is not installed) and kills it when the
// test ends.
func StartMosquitto(t testing.TB, opts ...MosquittoOption) *Mosquitto {
	t.Helper()
	m := &Mosquitto{t: t, Host: "127.0.0.1", bin: RequirePeer(t, "mosquitto")}
	for _, o := range opts {
		o(m)
	}
	dir, err := os.MkdirTemp("", "tbtest-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	m.dir = dir
	_ = os.Chmod(dir, 0o755) // mosquitto drops root privileges to its own user
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	t.Cleanup(m.Stop)
	if m.users != nil {
		m.writePasswords()
	}
	if m.pki != nil { // copied: mosquitto reads them after dropping root privileges
		for src, dst := range map[string]string{m.pki.CAFile: "ca.pem", m.pki.ServerCertFile: "server.pem",
			m.pki.ServerKeyFile: "server.key"} {
			b, err := os.ReadFile(m.pki.Path(src))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, dst), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var lastErr error
	for range 5 { // free ports are picked, then bound by mosquitto: retry a lost race
		m.Port, m.TLSPort, m.AuthPort = freePort(t), 0, 0
		if m.pki != nil {
			m.TLSPort = freePort(t)
		}
		if m.users != nil {
			m.AuthPort = freePort(t)
		}
		if lastErr = m.start(); lastErr == nil {
			return m
		}
	}
	t.Fatalf("tbtest: mosquitto: %v", lastErr)
	return nil
}

// Addr is the plain listener's host:port.
func (m *Mosquitto) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// Start runs a stopped broker again on the same ports.
func (m *Mosquitto) Start() {
	m.t.Helper()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err = m.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("tbtest: restart mosquitto: %v", err)
}

// Stop kills the broker (SIGKILL: an abrupt outage). Idempotent.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}

func (m *Mosquitto) writePasswords() {
	f := filepath.Join(m.dir, "passwd")
	pw := RequirePeer(m.t, "mosquitto_passwd")
	for u, p := range m.users {
		args := []string{"-b", f, u, p}
		if _, err := os.Stat(f); err != nil {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(pw, args...).CombinedOutput(); err != nil {
			m.t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	_ = os.Chmod(f, 0o644)
}

func (m *Mosquitto) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "per_listener_settings true\npersistence false\nlog_dest stderr\n")
	fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous true\n", m.Port)
	if m.pki != nil {
		fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\n",
			m.TLSPort, filepath.Join(m.dir, "ca.pem"), filepath.Join(m.dir, "server.pem"), filepath.Join(m.dir, "server.key"))
		if m.requireCert {
			b.WriteString("require_certificate true\nuse_identity_as_username true\n")
		}
	}
	if m.users != nil {
		fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n",
			m.AuthPort, filepath.Join(m.dir, "passwd"))
	}
	return b.String()
}

func (m *Mosquitto) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	conf := filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(m.config()), 0o644); err != nil {
		return err
	}
	out := &syncBuffer{}
	cmd := exec.Command(m.bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	ports := []int{m.Port, m.TLSPort, m.AuthPort}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ports {
		if p == 0 {
			continue
		}
		for !canDial(p) {
			if time.Now().After(deadline) || processGone(cmd) {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				_ = cmd.Wait()
				return fmt.Errorf("mosquitto did not listen on %d: %s", p, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	m.cmd, m.out = cmd, out
	return nil
}

// processGone reports whether cmd's process has exited (without reaping).
func processGone(cmd *exec.Cmd) bool {
	return syscall.Kill(cmd.Process.Pid, 0) != nil || isZombie(cmd.Process.Pid)
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

func canDial(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
