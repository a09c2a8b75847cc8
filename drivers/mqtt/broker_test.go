package mqtt

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// mosquitto is a broker process for one test, on 127.0.0.1 and a free
// port that survives restarts.
type mosquitto struct {
	t     testing.TB
	port  int
	conf  string
	mu    sync.Mutex
	cmd   *exec.Cmd
	log   *bytes.Buffer
	exits chan struct{}
}

func (m *mosquitto) addr() string { return "127.0.0.1:" + strconv.Itoa(m.port) }

// startMosquitto starts mosquitto with extra config lines, or skips the
// test when mosquitto is not installed.
func startMosquitto(t testing.TB, extra ...string) *mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
				break
			}
		}
	}
	drivertest.RequirePeer(t, err == nil, "mosquitto")
	m := &mosquitto{t: t, port: drivertest.FreePort(t)}
	dir := brokerDir(t)
	m.conf = filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", m.port)
	if _, bench := t.(*testing.B); !bench {
		// Every packet, for the log shown when a test fails.
		cfg += "log_type all\n"
	}
	for _, l := range extra {
		cfg += l + "\n"
	}
	if err := os.WriteFile(m.conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start(bin)
	t.Cleanup(m.stop)
	return m
}

// brokerDir is a temporary directory the mosquitto user can read (the
// broker drops root privileges after start).
func brokerDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (m *mosquitto) start(bin string) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = new(bytes.Buffer)
	cmd := exec.Command(bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.cmd = cmd
	m.exits = make(chan struct{})
	go func(exits chan struct{}) { _ = cmd.Wait(); close(exits) }(m.exits)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not start on %s: %v\n%s", m.addr(), err, m.log)
		}
		select {
		case <-m.exits:
			m.t.Fatalf("mosquitto exited: %s", m.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (m *mosquitto) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	if m.t.Failed() {
		m.t.Logf("mosquitto log:\n%s", m.log)
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-m.exits:
	case <-time.After(10 * time.Second):
		m.t.Errorf("mosquitto did not exit")
	}
	m.cmd = nil
}

// restart stops the broker and starts it again on the same port.
func (m *mosquitto) restart() {
	m.t.Helper()
	bin := m.cmd.Path
	m.stop()
	m.start(bin)
}

// devClient is a device-side MQTT client for tests.
type devClient struct {
	t  testing.TB
	c  paho.Client
	mu sync.Mutex
	// got receives messages of subscribed topics.
	got chan paho.Message
}

func newDevClient(t testing.TB, addr string) *devClient {
	t.Helper()
	d := &devClient{t: t, got: make(chan paho.Message, 1024)}
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID(fmt.Sprintf("dev-%d", time.Now().UnixNano())).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { d.got <- m })
	d.c = paho.NewClient(opts)
	tok := d.c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device client connect: %v", tok.Error())
	}
	t.Cleanup(func() { d.c.Disconnect(100) })
	return d
}

func (d *devClient) pub(topic string, qos byte, payload string) {
	d.t.Helper()
	tok := d.c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		d.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (d *devClient) sub(topic string) {
	d.t.Helper()
	tok := d.c.Subscribe(topic, 1, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		d.t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
}

// next waits for the next message on a subscribed topic.
func (d *devClient) next(timeout time.Duration) paho.Message {
	d.t.Helper()
	select {
	case m := <-d.got:
		return m
	case <-time.After(timeout):
		d.t.Fatalf("no message within %v", timeout)
		return nil
	}
}
