//go:build !kerneltest

package ble

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
	"github.com/tbgw/tbgw/gw/connector"
)

const pyDeviceConfig = `{"devices":[{"name":"Py Sensor","deviceType":"thermo","MACAddress":"4C:65:A8:DF:85:C0",
  "extension":"DemoBLEUplinkConverter",
  "telemetry":[{"key":"temperature","method":"notify","characteristicUUID":"226CAA55-6476-4566-7562-66734470666D"},
               {"key":"advBattery","dataSourceType":"advertisement","valueExpression":"[0:2]"}],
  "attributes":[{"key":"name","method":"read","characteristicUUID":"00002A00-0000-1000-8000-00805F9B34FB","demoText":true}]}]}`

func pythonHost(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
}

func point(d []connector.Data, key string, attr bool) any {
	for _, x := range d {
		ps := x.Telemetry
		if attr {
			ps = x.Attributes
		}
		for _, p := range ps {
			if p.Key == key {
				return p.Value
			}
		}
	}
	return nil
}

// TestPythonConverter: a device's "extension" naming an upstream-style
// Python class runs in the extension host with Debian's python3 and gets
// what upstream's BLE connector hands it: the characteristic section and
// the values (bytearrays) with their item configurations, or the first
// manufacturer data value. The radio path is covered by the kernel test.
func TestPythonConverter(t *testing.T) {
	pythonHost(t)
	c, err := New([]byte(pyDeviceConfig), drivertest.Env(t, "BLE", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.(*Conn).spec.devices[0]
	cc := d.custom
	if cc == nil {
		t.Fatal("no converter class")
	}
	var temp, name *item
	for _, it := range d.items {
		switch it.key {
		case "temperature":
			temp = it
		case "name":
			name = it
		}
	}
	out, err := cc.convertValues(d.name, 0x2a, []rawValue{{temp, []byte{0x0a, 0x08}}, {name, []byte("Kitchen")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Device != "Py Sensor" || out[0].Type != "thermo" {
		t.Fatalf("%+v", out)
	}
	if v := point(out, "temperature", false); v != 20.58 {
		t.Errorf("temperature %v", v)
	}
	if v := point(out, "name", true); v != "Kitchen" {
		t.Errorf("name %v", v)
	}
	out, err = cc.convertAdv(d.name, []byte{0x57, 0x00, 0xff}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v := point(out, "battery", false); v != int64(87) {
		t.Errorf("battery %v (%T) in %+v", v, v, out)
	}
	// A value the class fails on is an error, the next converts.
	if _, err := cc.convertValues(d.name, 0, []rawValue{{name, []byte{0xff, 0xfe}}}, time.Now()); err == nil || !strings.Contains(err.Error(), "UnicodeDecodeError") {
		t.Errorf("bad text: %v", err)
	}
	if out, err := cc.convertValues(d.name, 0, []rawValue{{temp, []byte{0xf6, 0xff}}}, time.Now()); err != nil || point(out, "temperature", false) != -0.1 {
		t.Errorf("after a failure: %+v %v", out, err)
	}
}

// TestConverterWithoutHost: with no extension host installed the device
// warns and uses the built-in conversion; with one, a class that is not
// there stops the connector naming the key.
func TestConverterWithoutHost(t *testing.T) {
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(t.TempDir(), "absent.py"))
	c, err := New([]byte(pyDeviceConfig), drivertest.Env(t, "BLE", "ble"))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.(*Conn).spec.devices[0]; d.custom != nil || !strings.Contains(d.warning, "devices[0].extension") {
		t.Errorf("custom %v, warning %q", d.custom, d.warning)
	}
	pythonHost(t)
	_, err = New([]byte(strings.Replace(pyDeviceConfig, "DemoBLEUplinkConverter", "NoSuchBLEConverter", 1)), drivertest.Env(t, "BLE", "ble"))
	if err == nil || !strings.Contains(err.Error(), "devices[0].extension") || !strings.Contains(err.Error(), "NoSuchBLEConverter") {
		t.Errorf("missing class: %v", err)
	}
}
