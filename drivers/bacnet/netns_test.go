package bacnet

import (
	"context"
	"fmt"
	"github.com/tbgw/tbgw/gw/connector"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// inNetns runs the calling test again inside a private network namespace
// (unshare -n) where setup builds a veth pair; it reports whether this is
// the run inside (then the test body goes on) or outside (then the test is
// done). The namespace and everything in it vanish with the process, so a
// broadcast never leaves it.
func inNetns(t *testing.T, setup ...string) bool {
	t.Helper()
	if os.Getenv("TBGW_BACNET_NETNS") == t.Name() {
		for _, cmd := range setup {
			f := strings.Fields(cmd)
			if out, err := exec.Command(f[0], f[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", cmd, err, out)
			}
		}
		return true
	}
	t.Parallel()
	unshare, errU := exec.LookPath("unshare")
	_, errIP := exec.LookPath("ip")
	drivertest.RequirePeer(t, errU == nil && errIP == nil && os.Geteuid() == 0, "root with unshare and ip (network namespaces)")
	nodeModules(t) // the peer must be there before we go in
	cmd := exec.Command(unshare, "-n", "--", os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "TBGW_BACNET_NETNS="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("inside the network namespace: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "device found") {
			t.Log(strings.TrimSpace(l))
		}
	}
	return false
}

var vethSetup = []string{
	"ip link set lo up",
	"ip link add v0 type veth peer name v1",
	"ip addr add 10.77.0.1/24 dev v0",
	"ip addr add 10.77.0.2/24 dev v1",
	"ip link set v0 up",
	"ip link set v1 up",
}

// TestBroadcastDiscovery: in a private network namespace, devices are
// found by broadcast Who-Is: by an address wildcard on the standard port,
// by device instance alone (global broadcast), and by "*:port"; a device
// answering a broadcast I-Am is found through the broadcast socket.
func TestBroadcastDiscovery(t *testing.T) {
	if !inNetns(t, vethSetup...) {
		return
	}
	startPeer(t, peerConfig{Devices: []peerDevice{
		{Port: 47808, Instance: 100, Name: "Alpha", AnalogInputs: 1, Bind: "0.0.0.0", Broadcast: "10.77.0.255"},
		{Port: 47810, Instance: 200, Name: "Beta", AnalogInputs: 1, Bind: "0.0.0.0", Broadcast: "10.77.0.255"}}})
	cfg := `{"application": {"objectName": "TB_gateway", "host": "10.77.0.1", "port": 47809, "mask": "24",
		"objectIdentifier": 599, "devicesDiscoverPeriodSeconds": 1, "apduTimeout": 500},
	"devices": [
		{"deviceInfo": {"deviceNameExpression": "wild ${objectName} ${address}"}, "address": "10.77.0.X:47808", "pollPeriod": 200,
		 "timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]},
		{"deviceInfo": {"deviceNameExpression": "byid ${objectId}"}, "deviceId": "100-150", "pollPeriod": 200,
		 "timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]},
		{"deviceInfo": {"deviceNameExpression": "port ${objectName}"}, "address": "*:47810", "pollPeriod": 200,
		 "timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	for _, dev := range []string{"wild Alpha 10.77.0.1:47808", "byid 100", "port Beta"} {
		sink.Wait(t, 15*time.Second, dev, has(dev, "t", false))
	}
	if n := c.Stats()["devices"]; n != 3 {
		t.Errorf("%d devices", n)
	}
}

// TestUpstreamSampleRuns runs upstream's bacnet.json unchanged: the
// gateway binds 0.0.0.0:47808 in one private network namespace, the peer
// device answers at 192.168.2.110:47808 in a second one, joined by a veth
// pair. Nothing leaves the namespaces.
func TestUpstreamSampleRuns(t *testing.T) {
	if !inNetns(t, "ip link set lo up", "ip link add v0 type veth peer name v1",
		"ip addr add 192.168.2.1/24 dev v0", "ip link set v0 up") {
		return
	}
	// The peer gets its own namespace; v1 moves into it once it exists.
	script := `i=0; while ! ip link show v1 >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done
ip link set lo up && ip addr add 192.168.2.110/24 dev v1 && ip link set v1 up && exec "$@"`
	peer := startPeerHook(t, peerConfig{Devices: []peerDevice{{Port: 47808, Instance: 110, Name: "Sample", AnalogInputs: 2,
		Bind: "0.0.0.0", Broadcast: "192.168.2.255"}}},
		func(pid int) {
			// Move v1 only once the peer is in its own namespace.
			self, _ := os.Readlink("/proc/self/ns/net")
			waitFor(t, 10*time.Second, "the peer's namespace", func() bool {
				ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
				return err == nil && ns != self
			})
			if out, err := exec.Command("ip", "link", "set", "v1", "netns", fmt.Sprint(pid)).CombinedOutput(); err != nil {
				t.Fatalf("move v1: %v %s", err, out)
			}
		}, "unshare", "-n", "--", "sh", "-c", script, "sh")
	raw, err := os.ReadFile("testdata/upstream/bacnet.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(raw, drivertest.Env(t, "BACnet", "bacnet"))
	if err != nil {
		t.Fatal(err)
	}
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	dev := "BACnet Device Sample"
	sink.Wait(t, 20*time.Second, "the sample's datapoints", func(data []connector.Data) bool {
		a, ok1 := drivertest.Latest(data, dev, "temperature", true)
		s, ok2 := drivertest.Latest(data, dev, "state", false)
		return ok1 && ok2 && a == 21.0 && s == int64(1)
	})
	bc := c.(*Connector)
	if err := bc.OnAttributes(context.Background(), dev, map[string]any{"brightness": 75}); err != nil {
		t.Fatal(err)
	}
	if !peer.waitLine("write 47808 1:1 85 75 16", 5*time.Second) {
		t.Error("brightness not written")
	}
	if _, err := rpc(t, bc, dev, "set_state", true); err != nil || !peer.waitLine("write 47808 4:1 85 1 16", 5*time.Second) {
		t.Errorf("set_state: %v", err)
	}
	if _, err := rpc(t, bc, dev, "get_state", nil); err == nil || !strings.Contains(err.Error(), "unknownObject") {
		t.Errorf("get_state of a missing object: %v", err)
	}
}

// TestRouter: a device on remote network 5 (MAC 7) behind a router: the
// Who-Is goes out with DNET 5, the I-Am comes back with SNET/SADR and
// matches "5:7"; reads, writes and RPCs travel through the router.
func TestRouter(t *testing.T) {
	if !inNetns(t, vethSetup...) {
		return
	}
	peer := startPeer(t, peerConfig{
		Router:  &peerRouter{Port: 47808, Net: 5, MAC: 7, DevicePort: 47900},
		Devices: []peerDevice{{Port: 47900, Instance: 700, Name: "Remote", AnalogInputs: 1}}})
	cfg := `{"application": {"host": "10.77.0.1", "port": 47809, "mask": "24", "objectIdentifier": 599,
		"devicesDiscoverPeriodSeconds": 1, "apduTimeout": 500},
	"devices": [{"deviceInfo": {"deviceNameExpression": "${objectName} on ${address} via ${routerAddress}"}, "address": "5:7", "pollPeriod": 200,
		"timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}, {"key": "ao", "objectType": "analogOutput", "objectId": 1}],
		"attributeUpdates": [{"key": "sp", "objectType": "analogOutput", "objectId": 1, "priority": 10}]}]}`
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	dev := "Remote on 5:7 via 10.77.0.1:47808"
	sink.Wait(t, 15*time.Second, "data through the router", has(dev, "t", false))
	if err := c.OnAttributes(context.Background(), dev, map[string]any{"sp": 12.5}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "the write read back", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, dev, "ao", false)
		return v == 12.5
	})
	res, err := rpc(t, c, dev, "get", "objectType=analogOutput;objectId=1;propertyId=presentValue;")
	if err != nil || resultValue(t, res) != 12.5 {
		t.Errorf("get: %v %v", res, err)
	}
	if !peer.waitLine("route 5 7", time.Second) {
		t.Error("nothing routed")
	}
}
