package rig

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mosquitto is the device-side broker: a mosquitto process on a random
// 127.0.0.1 port with persistence (a graceful restart keeps the queued
// and in-flight messages of persistent sessions), unbounded queues for
// offline persistent sessions and a large in-flight window.
type Mosquitto struct {
	Port int
	dir  string
	bin  string
	proc *Proc
	log  *os.File
}

// FindMosquitto returns the mosquitto binary or an error.
func FindMosquitto() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(d, "mosquitto")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("mosquitto not installed (scripts/peers/mosquitto.sh installs it)")
}

// StartMosquitto starts mosquitto with its files in dir.
func StartMosquitto(dir string) (*Mosquitto, error) {
	bin, err := FindMosquitto()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	_ = os.Chmod(dir, 0o777) // mosquitto drops root privileges to its own user
	m := &Mosquitto{dir: dir, bin: bin}
	var last error
	for range 5 { // a free port is picked, then bound by mosquitto: retry a lost race
		if m.Port, err = FreePort(); err != nil {
			return nil, err
		}
		if last = m.Start(); last == nil {
			return m, nil
		}
	}
	return nil, last
}

// Addr is host:port.
func (m *Mosquitto) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port)) }

// Pid is the broker's process id (0 when stopped).
func (m *Mosquitto) Pid() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.Pid()
}

func (m *Mosquitto) config() string {
	var user []string
	if os.Geteuid() == 0 {
		// Run as root, mosquitto switches to its own user, which may not
		// reach a private working directory: its sessions would not be
		// saved on stop.
		user = []string{"user root"}
	}
	return strings.Join(append(user,
		"persistence true",
		"persistence_location "+m.dir+"/",
		"autosave_interval 0", // saved on exit (SIGTERM)
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"listener "+strconv.Itoa(m.Port)+" 127.0.0.1",
		"allow_anonymous true",
		"max_queued_messages 0", // no limit: the offline gateway's queue must not drop
		"max_inflight_messages 1000",
		"set_tcp_nodelay true",
		"",
	), "\n")
}

// Start starts a stopped broker on its port, waiting until it listens.
func (m *Mosquitto) Start() error {
	if m.proc != nil {
		return nil
	}
	conf := filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(m.config()), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(m.dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p, err := StartProc("mosquitto", logf, m.bin, "-c", conf)
	if err != nil {
		logf.Close()
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for !CanDial(m.Port) {
		if gone, _ := p.Exited(); gone || time.Now().After(deadline) {
			p.Kill()
			logf.Close()
			return fmt.Errorf("mosquitto did not listen on %d: %s", m.Port, tail(filepath.Join(m.dir, "mosquitto.log"), 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.proc, m.log = p, logf
	return nil
}

// Stop stops the broker gracefully (SIGTERM: it saves its persistence
// file), killing it after 60 s.
func (m *Mosquitto) Stop() error {
	if m.proc == nil {
		return nil
	}
	_, err := m.proc.Stop(60 * time.Second)
	m.proc = nil
	m.log.Close()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(m.dir, "mosquitto.db")); err != nil {
		return fmt.Errorf("mosquitto did not save its sessions: %v\n%s", err, tail(filepath.Join(m.dir, "mosquitto.log"), 1000))
	}
	return nil
}

// Kill kills the broker (an abrupt outage: what it held in memory is lost).
func (m *Mosquitto) Kill() {
	if m.proc == nil {
		return
	}
	m.proc.Kill()
	m.proc = nil
	m.log.Close()
}

// FreePort returns a free 127.0.0.1 TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CanDial reports whether 127.0.0.1:port accepts connections.
func CanDial(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// tail returns up to n bytes from the end of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return string(b)
}
