package bacnet

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestEDE(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	env := drivertest.Env(t, "bacnet", "bacnet")
	env.ConfigDir = dir
	raw, _ := os.ReadFile("testdata/site-ede.csv")
	for name, cfg := range map[string]string{
		"file":   `{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "edeFilePath": "site-ede.csv"}`,
		"base64": `{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "edeConfig": "` + base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), ";", ","))) + `"}`,
	} {
		c, err := New([]byte(cfg), env)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := c.(*Connector).plan
		if len(p.devices) != 1 {
			t.Fatalf("%s: %d devices", name, len(p.devices))
		}
		d := p.devices[0]
		if d.name.eval(nil) != "AHU 1" || !d.ids.match(1001) || d.ids.match(1002) || !d.addr.any || d.poll.Milliseconds() != 10000 {
			t.Errorf("%s: device %+v", name, d)
		}
		var got []string
		for _, it := range d.items {
			got = append(got, it.key+"="+it.types[0].String()+":"+string(rune('0'+it.ids[0][0]))+"/"+it.props[0].String())
		}
		if strings.Join(got, ",") != "Supply Temp=analogInput:1/presentValue,Setpoint=analogValue:3/presentValue,Fan=binaryOutput:1/presentValue" {
			t.Errorf("%s: items %v", name, got)
		}
		if d.items[0].attr || d.items[0].types[0] != bacnet.AnalogInput {
			t.Errorf("%s: not telemetry", name)
		}
	}
	for cfg, want := range map[string]string{
		`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "edeFilePath": "missing.csv"}`: "edeFilePath",
		`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "edeConfig": "%%%"}`:           "edeConfig",
		`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "edeConfig": "YSxi"}`:          "keyname",
	} {
		if _, err := New([]byte(cfg), env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}
