package fieldconv

import (
	"encoding/json"
	"math"
	"testing"
)

const sampleEntries = `[
 {"key":"Totaliser","type":"float","fromByte":0,"toByte":4,"byteorder":"big","signed":true,"multiplier":1},
 {"key":"Flow","type":"int","fromByte":4,"toByte":6,"byteorder":"big","signed":true,"multiplier":0.01},
 {"key":"Le","type":"int","fromByte":4,"toByte":6,"byteorder":"little"},
 {"key":"deviceStatus","type":"int","byteAddress":7,"fromBit":4,"toBit":8,"byteorder":"big","signed":false},
 {"key":"OUT1","type":"int","byteAddress":7,"fromBit":0,"toBit":1,"byteorder":"big"},
 {"key":"Name","type":"string","fromByte":8,"toByte":-1}
]`

func TestSampleLayout(t *testing.T) {
	entries, err := Parse(json.RawMessage(sampleEntries))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New("SD8500", "SD", entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 1.5 as float32, -300 as int16, status byte 0b1010_0001, "ok".
	frame := []byte{0x3f, 0xc0, 0, 0, 0xfe, 0xd4, 0, 0xa1, 'o', 'k'}
	data, err := c.Convert("", frame, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Totaliser": 1.5, "Flow": -3.0, "Le": int64(0xd4fe), "deviceStatus": int64(10), "OUT1": int64(1), "Name": "ok"}
	if len(data) != 1 || data[0].Device != "SD8500" || data[0].Type != "SD" || len(data[0].Telemetry) != len(want) {
		t.Fatalf("data %+v", data)
	}
	for _, p := range data[0].Telemetry {
		if f, ok := p.Value.(float64); ok && math.Abs(f-want[p.Key].(float64)) < 1e-9 {
			continue
		}
		if p.Value != want[p.Key] || p.TS != 7 {
			t.Errorf("%s = %#v, want %#v", p.Key, p.Value, want[p.Key])
		}
	}
	// Too short: the entries that fit, and an error naming the others.
	data, err = c.Convert("", frame[:5], 7)
	if err == nil || len(data) != 1 || len(data[0].Telemetry) != 1 {
		t.Fatalf("short frame: %v %+v", err, data)
	}
}

func TestOneObject(t *testing.T) {
	entries, err := Parse(json.RawMessage(`{"key":"Totaliser","datatype":"float","fromByte":0,"toByte":4,"byteorder":"big","signed":true,"multiplier":1}`))
	if err != nil || len(entries) != 1 || entries[0].DataType != "float" {
		t.Fatalf("%v %+v", err, entries)
	}
}

func TestBadEntries(t *testing.T) {
	for _, s := range []string{
		`[{"type":"int","fromByte":0,"toByte":1}]`,
		`[{"key":"k","type":"float","fromByte":0,"toByte":3}]`,
		`[{"key":"k","type":"int","fromByte":0,"toByte":9}]`,
		`[{"key":"k","type":"int","fromByte":2,"toByte":1}]`,
		`[{"key":"k","type":"int","byteAddress":1,"fromBit":5,"toBit":9}]`,
		`[{"key":"k","type":"complex","fromByte":0,"toByte":1}]`,
		`[{"key":"k","fromByte":0,"toByte":1,"byteorder":"middle"}]`,
		`[{"key":"k","fromByte":0}]`,
		`[{"key":"k","fromByte":0,"toByte":1,"colour":"red"}]`,
		`[]`,
	} {
		entries, err := Parse(json.RawMessage(s))
		if err == nil {
			_, err = New("d", "", entries, nil)
		}
		if err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

func FuzzConvert(f *testing.F) {
	f.Add([]byte{0x3f, 0xc0, 0, 0, 0xfe, 0xd4, 0, 0xa1, 'o', 'k'})
	f.Add([]byte{})
	entries, err := Parse(json.RawMessage(sampleEntries))
	if err != nil {
		f.Fatal(err)
	}
	c, err := New("d", "", entries, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		data, err := c.Convert("", p, 1)
		if err == nil && (len(data) != 1 || len(data[0].Telemetry) != len(entries)) {
			t.Fatalf("no error but %d points", len(data[0].Telemetry))
		}
	})
}
