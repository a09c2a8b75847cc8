package bacnet

import (
	"fmt"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestForeignDevice: with foreignDevice set the gateway registers with the
// BBMD, renews at half the TTL, and discovers through it
// (Distribute-Broadcast-To-Network) a device known only by its instance.
func TestForeignDevice(t *testing.T) {
	t.Parallel()
	bbmd, nak := freeUDPPort(t), freeUDPPort(t)
	peer := startPeer(t, peerConfig{Devices: []peerDevice{
		{Port: bbmd, Instance: 6001, Name: "Bbmd", AnalogInputs: 1},
		{Port: nak, Instance: 6002, Name: "Nak", BBMDNak: true}}})
	cfg := fmt.Sprintf(`{%s, "foreignDevice": {"address": "127.0.0.1:%d", "ttl": 4},
		"devices": [{"deviceId": 6001, "pollPeriod": 200, "timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`, appConfig, bbmd)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "data through the BBMD", has("BACnet Device Bbmd", "t", false))
	waitFor(t, 10*time.Second, "a renewal", func() bool { return peer.count(fmt.Sprintf("register %d 4", bbmd)) >= 2 })
	if n := c.Stats()["foreignRegistrations"]; n < 2 {
		t.Errorf("%d registrations", n)
	}

	// A BBMD that refuses: the connector keeps running and retries.
	cfg = fmt.Sprintf(`{%s, "foreignDevice": {"address": "127.0.0.1:%d", "ttl": 60}, "devices": []}`, appConfig, nak)
	c2 := newConnector(t, cfg)
	drivertest.Run(t, c2, drivertest.NewSink())
	waitFor(t, 10*time.Second, "a retry after the NAK", func() bool { return peer.count(fmt.Sprintf("register %d 60", nak)) >= 2 })
	if c2.Stats()["foreignRegistrations"] != 0 {
		t.Error("a refused registration counted")
	}
}
