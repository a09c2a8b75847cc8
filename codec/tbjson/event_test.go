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

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, 1, -2.5, 1e-7, 1e21, 123456789.125, math.Inf(1)} {
		got := string(AppendFloat(nil, f))
		if math.IsInf(f, 0) {
			if got != "null" {
				t.Fatal(got)
			}
			continue
		}
		want, _ := json.Marshal(f)
		if got != string(want) {
			t.Fatalf("%v: got %s want %s", f, got, want)
		}
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
