//go:build kerneltest

package ble

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// BlueZ as the independent peer: bluetoothd (on a private D-Bus system
// bus) manages both controllers, so the connector also runs next to a
// live bluetoothd on its own controller; bluetoothd's built-in GATT
// server (GAP and GATT services) is the peripheral, and btmgmt, BlueZ's
// management tool, sets up its advertising with manufacturer data.
func TestKernelBlueZPeer(t *testing.T) {
	for _, b := range []string{"/usr/sbin/bluetoothd", "/usr/bin/dbus-daemon", "/usr/bin/btmgmt"} {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("%s missing from the rig (scripts/kernel-tests.txt bins=): %v", b, err)
		}
	}
	idx := bttest.Virt(t, 2)
	dir := t.TempDir()
	bus := filepath.Join(dir, "system_bus_socket")
	conf := filepath.Join(dir, "system.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=`+bus+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		os.MkdirAll("/etc", 0o755)
		os.WriteFile("/etc/passwd", []byte("root:x:0:0:root:/tmp:/bin/sh\n"), 0o644)
		os.WriteFile("/etc/group", []byte("root:x:0:\n"), 0o644)
	}
	os.MkdirAll("/var/lib/bluetooth", 0o700)
	start := func(name string, env []string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	start("/usr/bin/dbus-daemon", nil, "--config-file="+conf, "--nofork", "--nopidfile")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(bus); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dbus-daemon did not create its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start("/usr/sbin/bluetoothd", []string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + bus}, "-n")

	btmgmt := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "/usr/bin/btmgmt", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("btmgmt %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	peer := fmt.Sprint(idx[1])
	// Wait until bluetoothd has set the controllers up (it names them);
	// powering one before that races with its setup ("Failed to set
	// privacy: Rejected").
	var mac bluetooth.Addr
	var name string
	deadline = time.Now().Add(30 * time.Second)
	for _, i := range idx {
		for {
			p, err := bluetooth.OpenAdapter(context.Background(), i)
			if err != nil {
				t.Fatal(err)
			}
			mac, name = p.Addr, p.Name
			ready := name != ""
			p.Close()
			if ready {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bluetoothd did not take hci%d", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Power and advertising through BlueZ's own tool.
	btmgmt("--index", peer, "power", "on")
	data := new(adv.Builder).Manufacturer(0x0059, []byte{0x01, 0x02, 0x0A}).Bytes()
	btmgmt("--index", peer, "add-adv", "-c", "-g", "-d", hex.EncodeToString(data), "1")

	cfg := `{"name":"BLE","devices":[{"name":"bluez","MACAddress":"` + mac.String() + `","pollPeriod":500,"showMap":true,
	  "attributes":[{"key":"nameBytes","method":"read","characteristicUUID":"2A00","valueExpression":"[0]"}],
	  "telemetry":[{"key":"serviceChanged","method":"notify","characteristicUUID":"2A05"},
	               {"key":"adv","dataSourceType":"advertisement","valueExpression":"[0:3]"}]}]}`
	cn, err := New([]byte(cfg), drivertest.Env(t, "BLE", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	want := fmt.Sprint(int(name[0]))
	sink.Wait(t, 30*time.Second, "data from bluetoothd's GATT server", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "bluez", "nameBytes", true)
		a, _ := drivertest.Latest(data, "bluez", "adv", false)
		return v == want && a == int64(0x01020A)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := c.OnRPC(ctx, connector.RPC{Device: "bluez", Method: "get", Params: json.RawMessage(`"characteristicUUID=2A00;"`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GAP device name read from bluetoothd: %q; controller name %q", res, name)
	if res != name {
		t.Errorf("device name %q, controller name %q", res, name)
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: "bluez", Method: "set", Params: json.RawMessage(`"characteristicUUID=2A00;value=x;"`)}); err == nil {
		t.Error("bluetoothd accepted a write to the device name")
	} else {
		t.Logf("write refused by bluetoothd as expected: %v", err)
	}
	t.Logf("stats %v", c.Stats())
}
