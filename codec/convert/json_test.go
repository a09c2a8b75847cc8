package convert

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec"
)

const now = int64(1700000000000)

func mustJSON(t *testing.T, cfg string, opt Options) *JSON {
	t.Helper()
	var c Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatalf("config: %v", err)
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	j, err := NewJSON(&c, opt)
	if err != nil {
		t.Fatalf("NewJSON: %v", err)
	}
	return j
}

// render gives a compact, order-preserving text form of converter output
// for golden comparison.
func render(ds []codec.Data) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Device + "|" + d.Type + "|A:")
		for _, p := range d.Attributes {
			b.WriteString(pointText(p, false))
		}
		b.WriteString("|T:")
		for _, p := range d.Telemetry {
			b.WriteString(pointText(p, true))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func pointText(p codec.Point, ts bool) string {
	v, _ := json.Marshal(p.Value)
	s := p.Key + "=" + string(v) + typeTag(p.Value)
	if ts {
		if p.TS == now {
			s += "@now"
		} else {
			s += "@" + time.UnixMilli(p.TS).UTC().Format(time.RFC3339Nano)
		}
	}
	if p.Report != nil {
		s += "[" + p.Report.Type + "]"
	}
	return s + ";"
}

func typeTag(v any) string {
	switch v.(type) {
	case int64:
		return "i"
	case float64:
		return "f"
	case json.RawMessage:
		return "j"
	}
	return ""
}

func TestJSONGolden(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		opt     Options
		topic   string
		payload string
		want    string
	}{
		{
			name: "upstream topic name and type, star mapping",
			cfg: `{"type":"json","deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(.*?)(?=/.*)",
				"deviceProfileExpressionSource":"topic","deviceProfileExpression":"(?<=TestDevice/)(.*)"},
				"timeout":60000,"attributes":"*","timeseries":"*"}`,
			topic:   "TestDevice/TestDeviceType",
			payload: `{"Temperature": 21, "Pressure": 100.5}`,
			want:    "TestDevice|TestDeviceType|A:Temperature=21i;Pressure=100.5f;|T:Temperature=21i@now;Pressure=100.5f@now;\n",
		},
		{
			name: "upstream name and type from message",
			cfg: `{"type":"json","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${DeviceName}",
				"deviceProfileExpressionSource":"message","deviceProfileExpression":"${DeviceType}"},
				"attributes":"*","timeseries":"*"}`,
			payload: `{"DeviceName":"TestDevice","DeviceType":"TestDeviceType"}`,
			want:    "TestDevice|TestDeviceType|A:DeviceName=\"TestDevice\";DeviceType=\"TestDeviceType\";|T:DeviceName=\"TestDevice\"@now;DeviceType=\"TestDeviceType\"@now;\n",
		},
		{
			name: "upstream array payload merges per device",
			cfg: `{"deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(.*?)(?=/.*)"},
				"attributes":"*","timeseries":"*"}`,
			topic:   "TestDevice/TestDeviceType",
			payload: `[{"Temperature": 1}, {"Temperature": 2}]`,
			want:    "TestDevice||A:Temperature=1i;Temperature=2i;|T:Temperature=1i@now;Temperature=2i@now;\n",
		},
		{
			name: "upstream spaced key name and int of a float string",
			cfg: `{"deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${device name}",
				"deviceProfileExpressionSource":"message","deviceProfileExpression":"TestDeviceType"},
				"attributes":[{"type":"int","key":"test_key","value":"${test_key}"}],"timeseries":[]}`,
			payload: `{"device name":"TestDevice","test_key":"21.420000"}`,
			want:    "TestDevice|TestDeviceType|A:test_key=21i;|T:\n",
		},
		{
			name: "upstream sample mapping: constant name, typed values",
			cfg: `{"type":"json","deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"Demo Device",
				"deviceProfileExpressionSource":"constant","deviceProfileExpression":"default"},
				"sendDataOnlyOnChange":false,"timeout":60000,
				"attributes":[{"type":"double","key":"power","value":"${power}"},{"type":"integer","key":"frequency","value":"${frequency}"}],
				"timeseries":[{"type":"double","key":"temperature","value":"${temperature}"},{"type":"double","key":"humidity","value":"${humidity}"},
				{"type":"boolean","key":"relay","value":"${relay}"}]}`,
			payload: `{"power": 230, "frequency": "50.2", "temperature": 21.5, "humidity": "40", "relay": "on"}`,
			want:    "Demo Device|default|A:power=230f;frequency=50i;|T:temperature=21.5f@now;humidity=40f@now;relay=true@now;\n",
		},
		{
			name: "upstream sample mapping: look-around topic regex",
			cfg: `{"deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(?<=sensor/)(.*?)(?=/data)",
				"deviceProfileExpressionSource":"constant","deviceProfileExpression":"Thermometer"},
				"attributes":[{"type":"string","key":"model","value":"${sensorModel}"}],
				"timeseries":[{"type":"double","key":"temperature","value":"${temp}"},{"type":"string","key":"humidity","value":"${hum}"}]}`,
			topic:   "sensor/SN-001/data",
			payload: `{"sensorModel":"T1000","temp":22.25,"hum":45}`,
			want:    "SN-001|Thermometer|A:model=\"T1000\";|T:temperature=22.25f@now;humidity=\"45\"@now;\n",
		},
		{
			name: "missing and null values skip the datapoint, no None",
			cfg: `{"deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"D"},
				"timeseries":[{"type":"double","key":"a","value":"${a}"},{"type":"double","key":"b","value":"${b}"},
				{"type":"string","key":"c","value":"${a}:${b}"},{"type":"string","key":"d","value":"${x}:${x}"}]}`,
			payload: `{"a": 1, "x": null}`,
			want:    "D||A:|T:a=1f@now;\n",
		},
		{
			name: "Request-style partial null",
			cfg: `{"deviceNameJsonExpression":"SD8500","deviceTypeJsonExpression":"default",
				"telemetry":[{"key":"developer_humidity","type":"string","value":"${Developer}:${hum}"},
				{"key":"gone","type":"string","value":"${x}:${y}"}]}`,
			opt:     Options{PartialNull: true},
			payload: `{"Developer":"Tester"}`,
			want:    "SD8500|default|A:|T:developer_humidity=\"Tester:null\"@now;\n",
		},
		{
			name: "Request JSONPath keys and names",
			cfg: `{"deviceNameJsonExpression":"${$.sensor}","deviceTypeJsonExpression":"default",
				"telemetry":[{"key":"${$.name}","type":"int","value":"${$.value}"}]}`,
			payload: `{"name":"Humidity","sensor":"aranet:358151000412:100886","time":"2020-03-17T16:16:03Z","unit":"%RH","value":"66"}`,
			want:    "aranet:358151000412:100886|default|A:|T:Humidity=66i@now;\n",
		},
		{
			name: "nested paths, array index, wildcard, list root",
			cfg: `{"deviceNameJsonExpression":"${$.meta.sensor}",
				"timeseries":[{"key":"t","type":"float","value":"${$.data.temperature}"},
				{"key":"first","type":"int","value":"${values[0].v}"},
				{"key":"any","type":"int","value":"${values[*].w}"},
				{"key":"obj","type":"json","value":"${meta}"},
				{"key":"objs","type":"string","value":"${meta}"},
				{"key":"arr","value":"${values}"}]}`,
			payload: `{"meta": {"sensor": "S1"}, "data": {"temperature": 21.5},
				"values": [{"v": 3}, {"v": 4, "w": 7}]}`,
			want: "S1||A:|T:t=21.5f@now;first=3i@now;any=7i@now;obj={\"sensor\":\"S1\"}j@now;" +
				"objs=\"{\\\"sensor\\\":\\\"S1\\\"}\"@now;arr=[{\"v\":3},{\"v\":4,\"w\":7}]j@now;\n",
		},
		{
			name: "payload ts and timestamp fields",
			cfg: `{"deviceInfo":{"deviceNameExpression":"${id}"},
				"timeseries":[{"key":"v","type":"int","value":"${v}"}]}`,
			payload: `[{"id":"a","ts":1712345678901,"v":1},{"id":"b","timestamp":1712345678,"v":2},{"id":"c","timestamp":"2024-04-05T19:34:38.5Z","v":3}]`,
			want: "a||A:|T:v=1i@2024-04-05T19:34:38.901Z;\n" +
				"b||A:|T:v=2i@2024-04-05T19:34:38Z;\n" +
				"c||A:|T:v=3i@2024-04-05T19:34:38.5Z;\n",
		},
		{
			name: "tsField with dayfirst and nested search, useReceivedTs off",
			cfg: `{"deviceInfo":{"deviceNameExpression":"D","deviceNameExpressionSource":"constant"},
				"timeseries":[{"key":"temperature","type":"double","value":"${temperature}","tsField":"${timestampField}","dayfirst":true},
				{"key":"temp","type":"float","value":"${D1234.temperature}","tsField":"${D1234.timestamp}"},
				{"key":"deep","type":"float","value":"${D1234.temperature}","tsField":"${x.updated_at}"}]}`,
			payload: `{"temperature": 25, "timestampField": "10.11.25 10:35:12.123",
				"D1234": {"temperature": 36, "timestamp": "2025-10-20T11:53:37.637Z", "SN": {"updated_at": "2025-10-21T00:00:00Z"}}}`,
			want: "D||A:|T:temperature=25f@2025-11-10T10:35:12.123Z;temp=36f@2025-10-20T11:53:37.637Z;deep=36f@2025-10-21T00:00:00Z;\n",
		},
		{
			name: "useReceivedTs and report strategies",
			cfg: `{"deviceInfo":{"deviceNameExpression":"D","deviceNameExpressionSource":"constant"},"useReceivedTs":true,
				"timeseries":[{"key":"a","type":"int","value":"${a}"},
				{"key":"b","type":"int","value":"${b}","reportStrategy":{"type":"on_change"}}]}`,
			opt:     Options{Report: &codec.Strategy{Type: codec.OnReceived}},
			payload: `{"a": 1, "b": 2, "ts": 1}`,
			want:    "D||A:|T:a=1i@now[ON_RECEIVED];b=2i@now[ON_CHANGE];\n",
		},
		{
			name: "keys from message and topic, constant values",
			cfg: `{"deviceInfo":{"deviceNameExpression":"D","deviceNameExpressionSource":"constant"},
				"attributes":[{"key":"${kind}_x","type":"string","value":"${v}"},
				{"key":"(?<=sensor/)\\w+","keySource":"topic","type":"int","value":"${v}"},
				{"key":"model","type":"string","value":"Model2"}]}`,
			topic:   "sensor/room/data",
			payload: `{"kind":"hum","v":"12.9"}`,
			want:    "D||A:hum_x=\"12.9\";room=12i;model=\"Model2\";|T:\n",
		},
		{
			name: "upstream useEval",
			cfg: `{"useEval":true,"deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${device name}"},
				"attributes":[{"type":"int","key":"test_key","value":"${test_key} + ${test_key}"},
				{"type":"string","key":"s","value":"'${name}'.upper()"},
				{"type":"double","key":"c","value":"${t} * 1.8 + 32"},
				{"type":"bool","key":"b","value":"${t} > 20 and ${flag}"}]}`,
			payload: `{"device name":"TestDevice","test_key":"21.420000","name":"ab","t":25,"flag":true}`,
			want:    "TestDevice||A:test_key=42i;s=\"AB\";c=77f;b=true;|T:\n",
		},
		{
			name: "unresolved name placeholder stays literal",
			cfg: `{"deviceInfo":{"deviceNameExpression":"Dev ${serial}","deviceNameExpressionSource":"message"},
				"attributes":"*"}`,
			payload: `{"a": true, "b": null}`,
			want:    "Dev ${serial}||A:a=true;|T:\n",
		},
		{
			name: "escaped keys and unicode",
			cfg: `{"deviceInfo":{"deviceNameExpression":"${na\"me}","deviceNameExpressionSource":"message"},
				"attributes":"*"}`,
			payload: `{"na\"me":"d\u00e9v\ud83d\ude00","k\\ey":"v"}`,
			want:    "dév😀||A:na\"me=\"dév😀\";k\\ey=\"v\";|T:\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustJSON(t, tc.cfg, tc.opt)
			got, err := c.Convert(tc.topic, []byte(tc.payload), now)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if g := render(got); g != tc.want {
				t.Errorf("got\n%s\nwant\n%s", g, tc.want)
			}
		})
	}
}

func TestJSONErrors(t *testing.T) {
	c := mustJSON(t, `{"deviceInfo":{"deviceNameExpression":"${name}"},"attributes":"*"}`, Options{})
	if _, err := c.Convert("", []byte(`{"a":`), now); err == nil {
		t.Error("bad JSON: no error")
	}
	got, err := c.Convert("", []byte(`[{"name":"x","a":1},{"name":"","a":2}]`), now)
	if err == nil || len(got) != 1 || got[0].Device != "x" {
		t.Errorf("array with a nameless element: got %v, %v", got, err)
	}
	if got, err := c.Convert("", []byte(`{"name":"x"}`), now); len(got) != 1 || err != nil {
		t.Errorf("name only: %v %v", got, err)
	}
	if got, err := c.Convert("", []byte(`{"name":"x","n":null}`), now); len(got) != 1 || err != nil {
		t.Errorf("nulls: %v %v", got, err)
	}
	c2 := mustJSON(t, `{"deviceInfo":{"deviceNameExpression":"D","deviceNameExpressionSource":"constant"},"timeseries":[{"key":"a","value":"${a}"}]}`, Options{})
	if got, err := c2.Convert("", []byte(`{"b":1}`), now); got != nil || err != nil {
		t.Errorf("no datapoint: %v %v", got, err)
	}
	if got, err := c2.Convert("", []byte(`[{"b":1},{"a":2}]`), now); len(got) != 1 || err != nil {
		t.Errorf("array with an empty element: %v %v", got, err)
	}
	bad := []struct{ cfg, path string }{
		{`{"attributes":"*"}`, "deviceInfo.deviceNameExpression"},
		{`{"deviceInfo":{"deviceNameExpression":"(","deviceNameExpressionSource":"topic"}}`, "deviceInfo.deviceNameExpression"},
		{`{"deviceInfo":{"deviceNameExpression":"x","deviceNameExpressionSource":"nowhere"}}`, "deviceInfo.deviceNameExpressionSource"},
		{`{"deviceInfo":{"deviceNameExpression":"x"},"timeseries":[{"key":"a","value":"${a"}]}`, "timeseries[0].value"},
		{`{"deviceInfo":{"deviceNameExpression":"x"},"timeseries":[{"key":"a"}]}`, "timeseries[0].value"},
		{`{"deviceInfo":{"deviceNameExpression":"x"},"attributes":[{"key":"a","value":"1","reportStrategy":{"type":"SOMETIMES"}}]}`, "attributes[0].reportStrategy"},
		{`{"useEval":true,"deviceInfo":{"deviceNameExpression":"x"},"attributes":[{"key":"a","value":"${a} +"}]}`, "attributes[0].value"},
		{`{"useEval":true,"deviceInfo":{"deviceNameExpression":"x"},"attributes":[{"key":"a","value":"__import__('os')"}]}`, "attributes[0].value"},
	}
	for _, b := range bad {
		var cfg Config
		if err := json.Unmarshal([]byte(b.cfg), &cfg); err != nil {
			t.Fatal(err)
		}
		_, err := NewJSON(&cfg, Options{})
		e, ok := err.(*Error)
		if !ok || e.Path != b.path {
			t.Errorf("%s: got %v, want error at %s", b.cfg, err, b.path)
		}
	}
}

func TestBytesGolden(t *testing.T) {
	cfgText := `{"type":"bytes","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"[0:4]",
		"deviceProfileExpressionSource":"constant","deviceProfileExpression":"default"},
		"attributes":[{"type":"raw","key":"rawData","value":"[:]"}],
		"timeseries":[{"type":"raw","key":"temp","value":"[4:]"},{"type":"int","key":"hex","value":"[4:6]","hexMode":true},
		{"type":"raw","key":"k[4]","value":"x[-1]y"}]}`
	var cfg Config
	if err := json.Unmarshal([]byte(cfgText), &cfg); err != nil {
		t.Fatal(err)
	}
	c, err := New(&cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Convert("sensor/raw_data", []byte("SN0121.5"), now)
	if err != nil {
		t.Fatal(err)
	}
	want := "SN01|default|A:rawData=\"SN0121.5\";|T:temp=\"21.5\"@now;hex=\"3231\"@now;k2=\"x5y\"@now;\n"
	if g := render(got); g != want {
		t.Errorf("got\n%s\nwant\n%s", g, want)
	}
	// An index past the end drops that datapoint and reports it.
	got, err = c.Convert("t", []byte(""), now)
	if err == nil {
		t.Errorf("empty payload: want error, got %s", render(got))
	}
}

type testUplink struct{ scale float64 }

func (u *testUplink) Convert(topic string, p []byte, nowMs int64) ([]codec.Data, error) {
	return []codec.Data{{Device: topic, Telemetry: []codec.Point{{Key: "n", Value: float64(len(p)) * u.scale, TS: nowMs}}}}, nil
}

func TestCustom(t *testing.T) {
	var cfg Config
	json.Unmarshal([]byte(`{"type":"custom","extension":"TestScaleConverter","extension-config":{"scale":2}}`), &cfg)
	c, err := New(&cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.Convert("dev", []byte("abc"), now)
	if want := []codec.Data{{Device: "dev", Telemetry: []codec.Point{{Key: "n", Value: 6.0, TS: now}}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	cfg.Extension = "Missing"
	if _, err := New(&cfg, Options{}); err == nil || !strings.Contains(err.Error(), "TestScaleConverter") {
		t.Errorf("missing converter: %v", err)
	}
}

// TestConcurrent converts from several goroutines at once (run with -race).
func TestConcurrent(t *testing.T) {
	c := mustJSON(t, `{"deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(?<=s/)(.*)"},"useEval":true,
		"timeseries":[{"key":"t","type":"double","value":"${t} * 2"}],"attributes":"*"}`, Options{})
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				topic := "s/dev" + string(rune('a'+g))
				out, err := c.Convert(topic, []byte(`{"t": 1.5, "x": "y"}`), now)
				if err != nil || len(out) != 1 || out[0].Device != topic[2:] || out[0].Telemetry[0].Value != 3.0 {
					done <- fmt.Errorf("got %v, %v", out, err)
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
