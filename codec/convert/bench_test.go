package convert

import (
	"encoding/json"
	"testing"
)

// A typical device message: six keys, mixed types, converted to telemetry
// with a device name from the payload.
const benchPayload = `{"serial":"SN-0042","temperature":21.56,"humidity":48.2,"pressure":1013,"battery":"87","relay":true}`

const benchConfig = `{"type":"json","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${serial}",
	"deviceProfileExpressionSource":"constant","deviceProfileExpression":"sensor"},
	"timeseries":[{"type":"double","key":"temperature","value":"${temperature}"},
	{"type":"double","key":"humidity","value":"${humidity}"},
	{"type":"int","key":"pressure","value":"${pressure}"},
	{"type":"int","key":"battery","value":"${battery}"},
	{"type":"bool","key":"relay","value":"${relay}"},
	{"type":"string","key":"serial","value":"${serial}"}]}`

func BenchmarkJSONConvert(b *testing.B) {
	var cfg Config
	if err := json.Unmarshal([]byte(benchConfig), &cfg); err != nil {
		b.Fatal(err)
	}
	c, err := NewJSON(&cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := []byte(benchPayload)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.Convert("sensors/SN-0042", p, 1700000000000)
		if err != nil || len(out[0].Telemetry) != 6 {
			b.Fatal(err, out)
		}
	}
}

func BenchmarkJSONConvertStar(b *testing.B) {
	var cfg Config
	json.Unmarshal([]byte(`{"deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(?<=sensors/)(.*)"},"timeseries":"*"}`), &cfg)
	c, err := NewJSON(&cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := []byte(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Convert("sensors/SN-0042", p, 1700000000000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdlibAny is the baseline the converter avoids: decoding the
// same payload with encoding/json into map[string]any.
func BenchmarkStdlibAny(b *testing.B) {
	p := []byte(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			b.Fatal(err)
		}
	}
}
