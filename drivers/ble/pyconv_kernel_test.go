//go:build kerneltest && kernelpyhost && linux

package ble

// The Python converter class over a real link: Debian's python3 and tbgw's
// extension host in the VM (the ./drivers/ble line of
// scripts/kernel-tests.txt copies them in and sets the kernelpyhost tag).

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/bluetooth/bttest"
	"github.com/tbgw/tbgw/drivers/drivertest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
	"github.com/tbgw/tbgw/gw/connector"
)

// TestKernelPythonConverter: the sensor's read characteristic (the GAP
// name) and its notifications reach the example class
// (extensions/examples/ble) as upstream's connector hands them over, and
// what the class returns reaches the sink.
func TestKernelPythonConverter(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	idx := bttest.Virt(t, 2)
	s := newSensor(t, idx[1]) // before the connector, see TestKernelUpstreamConfig
	cfg := strings.ReplaceAll(pyDeviceConfigKernel, "@MAC@", s.p.Addr.String())
	cn, err := New([]byte(cfg), drivertest.Env(t, "BLE Connector", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	py := func(key string, attr bool, want any) func([]connector.Data) bool {
		return func(data []connector.Data) bool {
			v, ok := drivertest.Latest(data, "Py Sensor", key, attr)
			return ok && v == want
		}
	}
	// Read at connect: "tbgw" as text (the item's demoText).
	sink.Wait(t, 60*time.Second, "name through the class", py("name", true, "tbgw"))
	// Notification {0x0a, 0x00, 0x08}: the first two bytes, 10 hundredths.
	s.notify(t, 0x0a, 0x08)
	sink.Wait(t, 20*time.Second, "temperature through the class", py("temperature", false, 0.1))
	if st := c.Stats(); st["convertErrors"] != 0 {
		t.Errorf("stats %v", st)
	}
}

const pyDeviceConfigKernel = `{"devices":[{"name":"Py Sensor","deviceType":"thermo","MACAddress":"@MAC@","pollPeriod":500000,
  "extension":"DemoBLEUplinkConverter",
  "telemetry":[{"key":"temperature","method":"notify","characteristicUUID":"226CAA55-6476-4566-7562-66734470666D"}],
  "attributes":[{"key":"name","method":"read","characteristicUUID":"00002A00-0000-1000-8000-00805F9B34FB","demoText":true}]}]}`
