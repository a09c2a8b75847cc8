package tbjson

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/tbgw/tbgw/codec"
)

func TestRecordRoundTrip(t *testing.T) {
	d := codec.Data{
		Device: "Demo \"Device\"", Type: "thermo",
		Attributes: []codec.Point{{Key: "model", Value: "T1"}, {Key: "cfg", Value: json.RawMessage(`{"a":[1,2]}`)}},
		Telemetry: []codec.Point{
			{Key: "temperature", Value: 21.5, TS: 100},
			{Key: "on", Value: true, TS: 200},
			{Key: "count", Value: int64(7), TS: 100},
			{Key: "bad", Value: math.NaN(), TS: 200},
		},
	}
	rec := AppendRecord(nil, &d)
	ev, err := DecodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(ev.Device) != d.Device || string(ev.Type) != "thermo" || ev.Points != 6 {
		t.Fatalf("device %q type %q", ev.Device, ev.Type)
	}
	if got, want := string(ev.Attributes), `"model":"T1","cfg":{"a":[1,2]}`; got != want {
		t.Fatalf("attrs %s want %s", got, want)
	}
	want := `{"ts":100,"values":{"temperature":21.5,"count":7}},{"ts":200,"values":{"on":true,"bad":null}}`
	if string(ev.Telemetry) != want {
		t.Fatalf("telemetry %s want %s", ev.Telemetry, want)
	}
	msg := AppendTelemetryMessage(nil, ev.Device, ev.Telemetry, ev.Telemetry)
	var parsed map[string][]map[string]any
	if err := json.Unmarshal(msg, &parsed); err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	if len(parsed[d.Device]) != 4 {
		t.Fatalf("parsed %v", parsed)
	}
	am := AppendAttributesMessage(nil, ev.Device, ev.Attributes)
	var pa map[string]map[string]any
	if err := json.Unmarshal(am, &pa); err != nil || pa[d.Device]["model"] != "T1" {
		t.Fatalf("%s: %v", am, err)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "ctl\x01\x1f\n\t\r", "ünï\u2028x", "bad\xffutf8", "<&>"} {
		got := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q: got %q want %q", s, back, wantBack)
		}
	}
}

// Floats render as Python's repr (upstream's json.dumps), so a whole float
// stays a float in ThingsBoard. Expected strings are CPython 3's repr().
func TestAppendFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", math.Copysign(0, -1): "-0.0", 1: "1.0", 25: "25.0", -2.5: "-2.5",
		0.1: "0.1", 0.0001: "0.0001", 0.00009: "9e-05", 1e-7: "1e-07", 1.5e-10: "1.5e-10",
		123456789.125: "123456789.125", 9999999999999998: "9999999999999998.0", 1e16: "1e+16",
		1e21: "1e+21", 1.2345678901234568e+17: "1.2345678901234568e+17", -3.4e38: "-3.4e+38",
		math.MaxFloat64: "1.7976931348623157e+308", 5e-324: "5e-324", 100: "100.0", 6.25: "6.25",
		math.Inf(1): "null", math.NaN(): "null",
	} {
		got := string(AppendFloat(nil, f))
		if got != want {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
		if want != "null" {
			var back float64
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != f {
				t.Errorf("%s does not read back as %v: %v", got, f, err)
			}
		}
	}
	// Integers stay integers.
	if got := string(AppendValue(nil, int64(25))); got != "25" {
		t.Fatal(got)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	d := codec.Data{Device: "d", Attributes: []codec.Point{{Key: "a", Value: int64(1)}}, Telemetry: []codec.Point{{Key: "t", Value: 1.5, TS: 1}}}
	f.Add(AppendRecord(nil, &d))
	f.Add([]byte{1, 1, 'x', 0, 0, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, rec []byte) {
		ev, err := DecodeRecord(rec)
		if err != nil {
			return
		}
		if len(ev.Device) == 0 {
			t.Fatal("decoded a record without device")
		}
	})
}

func BenchmarkAppendRecord(b *testing.B) {
	d := codec.Data{Device: "sensor-0001", Type: "default", Telemetry: []codec.Point{
		{Key: "temperature", Value: 21.5, TS: 1712345678901}, {Key: "humidity", Value: 40.25, TS: 1712345678901},
		{Key: "pressure", Value: int64(1013), TS: 1712345678901}, {Key: "status", Value: "ok", TS: 1712345678901},
		{Key: "relay", Value: true, TS: 1712345678901}, {Key: "seq", Value: int64(123456), TS: 1712345678901},
	}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendRecord(buf[:0], &d)
	}
}
