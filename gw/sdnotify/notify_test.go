package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// listen opens a real unix datagram socket as a service manager would.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	name := filepath.Join(t.TempDir(), "notify")
	c := listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	for _, s := range []string{"READY=1\nSTATUS=running", "WATCHDOG=1", "STOPPING=1"} {
		ok, err := Notify(s)
		if !ok || err != nil {
			t.Fatalf("Notify(%q) = %v, %v", s, ok, err)
		}
		if got := recv(t, c); got != s {
			t.Fatalf("received %q, want %q", got, s)
		}
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "@tbgw-sdnotify-test-" + filepath.Base(t.TempDir())
	c := listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	if ok, err := Notify("READY=1"); !ok || err != nil {
		t.Fatalf("Notify = %v, %v", ok, err)
	}
	if got := recv(t, c); got != "READY=1" {
		t.Fatalf("received %q", got)
	}
}

func TestNotifyWithoutManager(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	if ok, err := Notify("READY=1"); ok || err != nil {
		t.Fatalf("Notify without NOTIFY_SOCKET = %v, %v", ok, err)
	}
	// A manager that went away is an error, not a hang.
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	if ok, err := Notify("READY=1"); ok || err == nil {
		t.Fatalf("Notify to a missing socket = %v, %v", ok, err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if _, err := Notify("READY=1"); err == nil {
		t.Fatal("relative NOTIFY_SOCKET accepted")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"30000000", "", 30 * time.Second},
		{"30000000", "42", 30 * time.Second},
		{"30000000", "43", 0},
		{"x", "", 0},
		{"-5", "", 0},
	} {
		if got := watchdogInterval(c.usec, c.pid, 42); got != c.want {
			t.Errorf("watchdogInterval(%q, %q) = %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}
