package bacnet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// TestCOV: with "cov": true the presentValue of subscribed objects arrives
// by notification and is not polled any more; another property (units) is
// subscribed on its own (SubscribeCOVProperty); an item with "cov": false
// is polled; a device that refuses COV is polled.
func TestCOV(t *testing.T) {
	t.Parallel()
	port, port2 := freeUDPPort(t), freeUDPPort(t)
	peer := startPeer(t, peerConfig{ChangeMs: 100, Devices: []peerDevice{
		{Port: port, Instance: 2001, Name: "Ahu", AnalogInputs: 2},
		{Port: port2, Instance: 2002, Name: "Vav", AnalogInputs: 1, COV: &bfalse}}})
	cfg := fmt.Sprintf(`{%s, "devices": [
		{"host": "127.0.0.1", "port": %d, "pollPeriod": 300, "cov": true, "covLifetime": 10,
		 "timeseries": [{"key": "t${objectName}", "objectType": "analogInput", "objectId": "0-1", "propertyId": ["presentValue", "statusFlags"]},
			{"key": "units", "objectType": "analogInput", "objectId": 0, "propertyId": "units"},
			{"key": "polled", "objectType": "binaryValue", "objectId": 1, "cov": false}]},
		{"host": "127.0.0.1", "port": %d, "pollPeriod": 300, "cov": true,
		 "timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`, appConfig, port, port2)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	ahu, vav := "BACnet Device Ahu", "BACnet Device Vav"
	if !peer.waitLine(fmt.Sprintf("subscribe %d 0:0 10", port), 10*time.Second) || !peer.waitLine(fmt.Sprintf("subscribe %d 0:1 10", port), 10*time.Second) {
		t.Fatal("no subscriptions")
	}
	// Values change every 100 ms: notifications bring more than polls could.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stats %v", c.Stats())
		}
	})
	sink.Wait(t, 10*time.Second, "COV notifications", func(data []connector.Data) bool {
		n := 0
		for _, d := range data {
			for _, p := range d.Telemetry {
				if d.Device == ahu && p.Key == "tAI 1.presentValue" {
					n++
				}
			}
		}
		return n >= 10
	})
	sink.Wait(t, 10*time.Second, "polled properties", func(data []connector.Data) bool {
		_, u := drivertest.Latest(data, ahu, "units", false)
		_, p := drivertest.Latest(data, ahu, "polled", false)
		_, f := drivertest.Latest(data, ahu, "tAI 0.statusFlags", false)
		_, v := drivertest.Latest(data, vav, "t", false)
		return u && p && f && v
	})
	if n := c.Stats()["covNotifications"]; n < 10 {
		t.Errorf("%d notifications", n)
	}
	if c.Stats()["covSubscriptions"] != 3 {
		t.Errorf("stats %v", c.Stats())
	}
	if peer.count(fmt.Sprintf("subscribe %d", port2)) != 0 {
		t.Error("subscribed on the device that refuses")
	}
	// Renewal at half the 10 s lifetime.
	if !peer.waitLine(fmt.Sprintf("subscribe %d 0:0 10", port), time.Second) {
		t.Fatal("lost")
	}
	deadline := time.Now().Add(10 * time.Second)
	for peer.count(fmt.Sprintf("subscribe %d 0:0", port)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("subscription not renewed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConfirmedCOV: confirmed COV notifications are acknowledged (the
// device sees a SimpleACK for each) and converted.
func TestConfirmedCOV(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	peer := startPeer(t, peerConfig{ChangeMs: 100, Devices: []peerDevice{{Port: port, Instance: 2003, Name: "Chiller", AnalogInputs: 1, ConfirmedCOV: true}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 60000, "cov": true,
		"timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitFor(t, 10*time.Second, "acknowledged notifications", func() bool { return peer.count(fmt.Sprintf("covack %d", port)) >= 5 })
	sink.Wait(t, 5*time.Second, "values", func(data []connector.Data) bool {
		n := 0
		for _, d := range data {
			n += len(d.Telemetry)
		}
		return n >= 5
	})
	if peer.count("covfail") != 0 {
		t.Error("unacknowledged notifications")
	}
}

// TestCOVProperty: a property other than presentValue/statusFlags is
// subscribed with SubscribeCOVProperty; a change arrives without polling.
func TestCOVProperty(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	peer := startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 2004, Name: "Room", AnalogValues: 1}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 60000, "cov": true,
		"attributes": [{"key": "label", "objectType": "analogValue", "objectId": 0, "propertyId": "objectName"}],
		"attributeUpdates": [{"key": "label", "objectType": "analogValue", "objectId": 0, "propertyId": "objectName"}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	dev := "BACnet Device Room"
	if !peer.waitLine(fmt.Sprintf("subscribeprop %d 2:0 77 300", port), 10*time.Second) {
		t.Fatal("no SubscribeCOVProperty")
	}
	sink.Wait(t, 10*time.Second, "the first notification", has(dev, "label", true))
	if err := c.OnAttributes(context.Background(), dev, map[string]any{"label": "Lobby"}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "the renamed object by COV", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, dev, "label", true)
		return v == "Lobby"
	})
	if n := c.Stats()["polls"]; n != 0 {
		t.Errorf("%d polls", n)
	}
}
