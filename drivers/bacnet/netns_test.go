package bacnet

import (
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
