package mqtt

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// sampleFor returns the upstream sample configuration pointed at m, with
// MQTT version v and a unique client id.
func sampleFor(t *testing.T, m *mosquitto, v int) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/mqtt.json")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), `"port": 1883`, fmt.Sprintf(`"port": %d`, m.port), 1)
	s = strings.Replace(s, `"version": 5`, fmt.Sprintf(`"version": %d`, v), 1)
	s = strings.Replace(s, `"clientId": "ThingsBoard_gateway"`, fmt.Sprintf(`"clientId": "tbgw-sample-%d-%d"`, v, time.Now().UnixNano()%1e6), 1)
	return s
}

// find returns the data items of device, merged.
func find(data []connector.Data, device string) (typ string, attrs, ts map[string]any) {
	attrs, ts = map[string]any{}, map[string]any{}
	for _, d := range data {
		if d.Device != device {
			continue
		}
		typ = d.Type
		for _, p := range d.Attributes {
			attrs[p.Key] = p.Value
		}
		for _, p := range d.Telemetry {
			ts[p.Key] = p.Value
		}
	}
	return typ, attrs, ts
}

func has(data []connector.Data, device string, n int) bool {
	_, a, t := find(data, device)
	return len(a)+len(t) >= n
}

func TestSampleMappings(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		sink := newRecSink()
		c := startConn(t, sampleFor(t, m, v), sink)
		dev := newDevClient(t, m.addr())

		dev.pub("data/", 1, `{"power": 1.5, "frequency": "50", "temperature": 21.5, "humidity": 40, "relay": "on"}`)
		dev.pub("sensor/SN-001/data", 1, `{"sensorModel": "T1000", "temp": "22.5", "hum": 41}`)
		dev.pub("sensor/raw_data", 1, `SN-2abc`)
		dev.pub("custom/sensors/SN-9", 1, `0x0A0B0C0D0E`)
		sink.Wait(t, 10*time.Second, "all sample devices", func(d []connector.Data) bool {
			return has(d, "Demo Device", 5) && has(d, "SN-001", 3) && has(d, "SN-2", 2) && has(d, "SN-9", 3)
		})
		data := sink.Data()

		typ, a, ts := find(data, "Demo Device")
		check := func(what string, got, want any) {
			t.Helper()
			if fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", want, want) {
				t.Errorf("%s: got %T %v, want %T %v", what, got, got, want, want)
			}
		}
		check("Demo type", typ, "default")
		check("power", a["power"], 1.5)
		check("frequency", a["frequency"], int64(50))
		check("temperature", ts["temperature"], 21.5)
		check("humidity", ts["humidity"], 40.0)
		check("relay", ts["relay"], true)

		typ, a, ts = find(data, "SN-001")
		check("SN-001 type", typ, "Thermometer")
		check("model", a["model"], "T1000")
		check("temp", ts["temperature"], 22.5)
		check("hum", ts["humidity"], "41")

		_, a, ts = find(data, "SN-2")
		check("rawData", a["rawData"], "SN-2abc")
		check("raw temp", ts["temp"], "abc")

		typ, _, ts = find(data, "SN-9")
		check("custom type", typ, "Thermostat")
		check("custom temperature", ts["temperature"], int64(0x0B))
		check("custom humidity", ts["humidity"], int64(0x0D))
		check("custom battery", ts["batteryLevel"], int64(0x0E))

		// Malformed messages are counted and logged; the connector goes on.
		before := c.Counters().Malformed.Load()
		dev.pub("sensor/raw_data", 1, ``)
		dev.pub("custom/sensors/SN-9", 1, `zz-not-hex`)
		dev.pub("data/", 1, `{"temperature": 23.5}`)
		sink.Wait(t, 10*time.Second, "data after malformed", func(d []connector.Data) bool {
			v, _ := drivertest.Latest(d, "Demo Device", "temperature", false)
			return v == 23.5
		})
		if got := c.Counters().Malformed.Load() - before; got < 1 {
			t.Errorf("malformed count grew by %d", got)
		}
	})
}

func TestMappingForms(t *testing.T) {
	m := startMosquitto(t)
	cfg := `{"broker":` + brokerJSON(m, 5, `,"sendDataOnlyOnChange":false`) + `,"mapping":[
	 {"topicFilter":"all/+","converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"all/(.*)"},
	   "attributes":"*","timeseries":"*"}},
	 {"topicFilter":"arr/#","converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${id}","deviceProfileExpressionSource":"message","deviceProfileExpression":"${kind}"},
	   "timeseries":[{"type":"double","key":"t","value":"${t}"},{"type":"string","key":"combo","value":"${id}:${t}"}]}},
	 {"topicFilter":"$share/grp/shared/+","subscriptionQos":0,"converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"Shared"},
	   "useReceivedTs":true,"sendDataOnlyOnChange":true,"timeseries":[{"type":"int","key":"n","value":"${n}"}]}},
	 {"topicFilter":"rs/+","reportStrategy":{"type":"ON_REPORT_PERIOD","reportPeriod":5000},"converter":{"type":"json",
	   "deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"RS"},
	   "timeseries":[{"type":"int","key":"a","value":"${a}"},{"type":"int","key":"b","value":"${b}","reportStrategy":{"type":"ON_CHANGE"}}]}},
	 {"topicFilter":"ts/x","converter":{"type":"json","deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"TS"},
	   "timeseries":[{"type":"int","key":"a","value":"${a}"}]}}
	]}`
	sink := newRecSink()
	startConn(t, cfg, sink)
	dev := newDevClient(t, m.addr())
	dev.pub("all/D1", 1, `{"x": 1, "y": "s", "z": {"k": [1,2]}}`)
	dev.pub("arr/1", 1, `[{"id":"A","kind":"K","t":1.5},{"id":"B","t":2},{"id":"A","t":3}]`)
	dev.pub("shared/1", 1, `{"n": "7"}`)
	dev.pub("rs/1", 1, `{"a": 1, "b": 2}`)
	dev.pub("ts/x", 1, `{"a": 1, "ts": 1700000000123}`)
	sink.Wait(t, 10*time.Second, "all forms", func(d []connector.Data) bool {
		return has(d, "D1", 6) && has(d, "A", 2) && has(d, "B", 2) && has(d, "Shared", 1) && has(d, "RS", 2) && has(d, "TS", 1)
	})
	data := sink.Data()
	_, a, ts := find(data, "D1")
	if len(a) != 3 || len(ts) != 3 || ts["x"] == nil {
		t.Errorf("* mapping: attrs %v ts %v", a, ts)
	}
	if z, _ := json.Marshal(ts["z"]); !regexp.MustCompile(`\[1,\s*2\]`).Match(z) {
		t.Errorf("* object value %s", z)
	}
	var aPoints int
	for _, d := range data {
		switch d.Device {
		case "A":
			if d.Type != "K" {
				t.Errorf("A type %q", d.Type)
			}
			aPoints += len(d.Telemetry)
		case "Shared":
			p := d.Telemetry[0]
			// TS 0: the gateway stamps it on receipt, uniquely per device.
			if p.Value != int64(7) || p.TS != 0 || p.Report == nil || p.Report.Type != "ON_CHANGE" {
				t.Errorf("shared point %+v", p)
			}
		case "RS":
			for _, p := range d.Telemetry {
				want := "ON_REPORT_PERIOD"
				if p.Key == "b" {
					want = "ON_CHANGE"
				}
				if p.Report == nil || p.Report.Type != want {
					t.Errorf("RS %s report %+v", p.Key, p.Report)
				}
			}
		case "TS":
			if p := d.Telemetry[0]; p.TS != 1700000000123 {
				t.Errorf("ts from payload: %+v", p)
			}
		}
	}
	if aPoints != 4 {
		t.Errorf("array: device A has %d points, want 4 (two elements merged)", aPoints)
	}
	if _, _, ts := find(data, "A"); ts["combo"] != "A:3" && ts["combo"] != "A:1.5" {
		t.Errorf("combo %v", ts["combo"])
	}
}

// The old layout (legacy device keys, extension-config) converts the same.
func TestOldMappingData(t *testing.T) {
	m := startMosquitto(t)
	raw, err := os.ReadFile("testdata/old_mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), `"port": 1883`, fmt.Sprintf(`"port": %d`, m.port), 1)
	cfg = strings.Replace(cfg, `"ThingsBoard_gateway"`, fmt.Sprintf(`"tbgw-old-%d"`, time.Now().UnixNano()%1e6), 1)
	sink := newRecSink()
	startConn(t, cfg, sink)
	dev := newDevClient(t, m.addr())
	dev.pub("sensor/data", 1, `{"serialNumber":"SN-5","sensorType":"Thermo","sensorModel":"M1","temp":20.5,"hum":30}`)
	dev.pub("sensor/SN-6/data", 1, `{"sensorModel":"M2","temp":19,"hum":31}`)
	dev.pub("sensor/raw_data", 1, `AB-123`)
	dev.pub("custom/sensors/SN-8", 1, `0x01020304050607`)
	sink.Wait(t, 10*time.Second, "old layout devices", func(d []connector.Data) bool {
		return has(d, "SN-5", 5) && has(d, "SN-6", 3) && has(d, "AB-1", 2) && has(d, "SN-8", 3)
	})
	data := sink.Data()
	typ, a, ts := find(data, "SN-5")
	if typ != "Thermo" || a["model"] != "M1" || a["M1"] != "on" || ts["combine"] != "30:20.5" {
		t.Errorf("SN-5: type %q attrs %v ts %v", typ, a, ts)
	}
	if typ, _, _ := find(data, "SN-6"); typ != "Thermometer" {
		t.Errorf("SN-6 type %q", typ)
	}
	if _, _, ts := find(data, "SN-8"); ts["temperature"] != int64(2) || ts["humidity"] != int64(4) || ts["batteryLevel"] != int64(5) {
		t.Errorf("SN-8 %v", ts)
	}
}
