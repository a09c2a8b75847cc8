package bacnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func countKeys(data []connector.Data, device, prefix string) int {
	seen := map[string]bool{}
	for _, d := range data {
		if d.Device != device {
			continue
		}
		for _, p := range d.Telemetry {
			if len(p.Key) >= len(prefix) && p.Key[:len(prefix)] == prefix {
				seen[p.Key] = true
			}
		}
	}
	return len(seen)
}

// TestSegmentedAnswers: 150 objects read with ReadPropertyMultiple from a
// device with a 480-octet APDU: the answers come segmented (window by
// window) and are reassembled; the object list ("*") too.
func TestSegmentedAnswers(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	peer := startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 3001, Name: "Big", AnalogInputs: 150, MaxAPDU: 480}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 60000,
		"timeseries": [{"key": "${objectName}", "objectType": "analogInput", "objectId": "*", "propertyId": "presentValue"}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "150 values", func(data []connector.Data) bool {
		return countKeys(data, "BACnet Device Big", "AI ") == 150
	})
	if peer.count("segmented ") == 0 {
		t.Error("no segmented answer")
	}
}

// TestBatchesHalvedWithoutSegmentation: a device that cannot segment and
// accepts 206-octet APDUs aborts a too large ReadPropertyMultiple answer;
// the batch is halved until the answers fit.
func TestBatchesHalvedWithoutSegmentation(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	peer := startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 3002, Name: "Small", AnalogInputs: 40, MaxAPDU: 206, Segmentation: &bfalse}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 60000,
		"timeseries": [{"key": "ai${objectName}", "objectType": "analogInput", "objectId": "0-39", "propertyId": ["presentValue", "statusFlags"]}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "40 objects", func(data []connector.Data) bool {
		return countKeys(data, "BACnet Device Small", "aiAI ") == 80
	})
	if peer.count("segmented ") != 0 {
		t.Error("a segmented answer from a device without segmentation")
	}
	c.mu.Lock()
	d := c.byName["BACnet Device Small"]
	c.mu.Unlock()
	d.mu.Lock()
	per := d.perBatch
	d.mu.Unlock()
	if per >= 20 || per < 2 {
		t.Errorf("batch size %d", per)
	}
}

// TestNoReadPropertyMultiple: a device rejecting ReadPropertyMultiple is
// read property by property.
func TestNoReadPropertyMultiple(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 3003, Name: "Old", AnalogInputs: 2, RPM: &bfalse}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 200,
		"timeseries": [{"key": "a", "objectType": "analogInput", "objectId": 0}, {"key": "b", "objectType": "analogInput", "objectId": 1},
			{"key": "x", "objectType": "analogInput", "objectId": 9}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "values", func(data []connector.Data) bool {
		a, ok1 := drivertest.Latest(data, "BACnet Device Old", "a", false)
		b, ok2 := drivertest.Latest(data, "BACnet Device Old", "b", false)
		return ok1 && ok2 && a == 20.0 && b == 21.0
	})
}

// TestSegmentedRequest: a WritePropertyMultiple longer than the device's
// APDU goes out in segments, window by window, and is acknowledged.
func TestSegmentedRequest(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	pr := startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 3004, AnalogValues: 1, MaxAPDU: 206}}})
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := &plan{broadcast: netip.MustParseAddr("127.0.0.1"), maxAPDU: 1476, seg: bacnet.SegmentedBoth, window: 4, apduTimeout: time.Second, retries: 1}
	cl := newClient(conn, drivertest.Env(t, "bacnet", "bacnet").Log, p)
	cl.handler = func(peer, bacnet.APDU) {}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cl.read(ctx, conn) }()
	defer func() { cancel(); conn.Close(); <-done }()

	// One object with 60 values (the peer's decoder takes one object).
	spec := bacnet.WriteAccessSpec{Object: bacnet.ObjectID{Type: bacnet.AnalogValue, Instance: 0}}
	for i := range 60 {
		spec.Values = append(spec.Values, bacnet.PropertyValue{Property: bacnet.PropPresentValue, Index: bacnet.NoIndex,
			Value: []bacnet.Value{float32(i) + 0.5}, Priority: uint8(i%16 + 1)})
	}
	specs := []bacnet.WriteAccessSpec{spec}
	data, err := bacnet.AppendWritePropertyMultiple(nil, specs)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 3*206 {
		t.Fatalf("request of %d octets", len(data))
	}
	to := target{peer: peer{ip: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}, maxAPDU: 206, seg: bacnet.SegmentedBoth}
	if _, err := cl.request(ctx, to, bacnet.ServiceWritePropertyMultiple, data); err != nil {
		pr.mu.Lock()
		t.Fatalf("%v (peer: %v)", err, pr.lines)
	}
	if !pr.waitLine(fmt.Sprintf("wpm %d 60", port), 5*time.Second) {
		t.Fatalf("the device did not get all 60 writes: %v", pr.lines)
	}
	// The same request to a device that cannot receive segments is refused
	// before anything is sent.
	to.seg = bacnet.NoSegmentation
	if _, err := cl.request(ctx, to, bacnet.ServiceWritePropertyMultiple, data); err == nil {
		t.Error("segmented a request for a device without segmentation")
	}
}
