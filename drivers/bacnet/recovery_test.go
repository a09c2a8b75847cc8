package bacnet

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// TestDeviceGoesAndReturns: a device that stops answering is reported
// disconnected; when it answers again (same address, restarted) it is
// connected and polled again.
func TestDeviceGoesAndReturns(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	pc := peerConfig{Devices: []peerDevice{{Port: port, Instance: 4001, Name: "Pump", AnalogInputs: 1}}}
	peer := startPeer(t, pc)
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 200,
		"timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	dev := "BACnet Device Pump"
	sink.Wait(t, 10*time.Second, "data", has(dev, "t", false))
	peer.kill()
	waitFor(t, 15*time.Second, "a disconnect", func() bool { return len(sink.Disconnects()) == 1 })
	sink.Reset()
	startPeer(t, pc)
	sink.Wait(t, 20*time.Second, "data again", has(dev, "t", false))
	waitFor(t, 10*time.Second, "a connect", func() bool { return len(sink.Connects()) == 1 })
	if got := sink.Connects(); got[0] != dev {
		t.Errorf("connects after return: %v", got)
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMalformedDatagrams: garbage, truncated and foreign datagrams sent
// to the gateway's port are dropped and counted; the connector keeps
// working and answers Who-Is for its own device object.
func TestMalformedDatagrams(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 4002, Name: "Fan", AnalogInputs: 1}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 200,
		"timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "data", has("BACnet Device Fan", "t", false))
	addr, err := net.ResolveUDPAddr("udp4", c.ListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, b := range [][]byte{{}, {0x81}, {0x81, 0x0a, 0x00, 0x04}, {0x82, 0x0a, 0x00, 0x06, 1, 0},
		{0x81, 0x0a, 0x00, 0x09, 0x01, 0x00, 0x30, 0x01, 0x0c}, {0x81, 0x0a, 0x00, 0x08, 0x01, 0x20, 0xff, 0xff},
		{0x81, 0x0a, 0x00, 0x0b, 0x01, 0x00, 0x10, 0x00, 0xc4, 0x02, 0x00}} {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// A Who-Is for the gateway's instance is answered with an I-Am.
	if _, err := conn.Write([]byte{0x81, 0x0a, 0x00, 0x0e, 0x01, 0x00, 0x10, 0x08, 0x0a, 0x02, 0x57, 0x1a, 0x02, 0x57}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x81, 0x0a, 0x00, 0x14, 0x01, 0x00, 0x10, 0x00, 0xc4, 0x02, 0x00, 0x02, 0x57}
	if n < len(want) || string(buf[:len(want)]) != string(want) {
		t.Fatalf("answer % X", buf[:n])
	}
	waitFor(t, 5*time.Second, "dropped datagrams counted", func() bool { return c.Stats()["datagramsDropped"] >= 5 })
	sink.Reset()
	sink.Wait(t, 10*time.Second, "data after garbage", has("BACnet Device Fan", "t", false))
}

// TestNoGoroutineLeak: Run returns promptly after cancel and leaves no
// goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	port := freeUDPPort(t)
	startPeer(t, peerConfig{ChangeMs: 50, Devices: []peerDevice{{Port: port, Instance: 4003, AnalogInputs: 2}}})
	before := runtime.NumGoroutine()
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 100, "cov": true,
		"timeseries": [{"key": "t", "objectType": "analogInput", "objectId": "0-1"}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	sink.Wait(t, 10*time.Second, "data", func(data []connector.Data) bool { return len(data) > 5 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	waitFor(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	// A second run on the same connector works (supervisor restart).
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- c.Run(ctx2, sink) }()
	sink.Reset()
	sink.Wait(t, 10*time.Second, "data after restart", func(data []connector.Data) bool { return len(data) > 0 })
	cancel2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
