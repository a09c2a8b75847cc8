package convert

import (
	"encoding/json"
	"testing"
)

// FuzzJSONConvert runs a converter using every feature over arbitrary
// payloads: errors are fine, panics and invalid output are not.
func FuzzJSONConvert(f *testing.F) {
	var cfg Config
	err := json.Unmarshal([]byte(`{"deviceInfo":{"deviceNameExpression":"${name} ${$.meta.id}","deviceProfileExpression":"(?<=t/)(.*)",
		"deviceProfileExpressionSource":"topic"},"attributes":"*",
		"timeseries":[{"key":"${k}","type":"int","value":"${v}"},{"key":"s","type":"string","value":"${a[*].b}:${c}"},
		{"key":"b","type":"bool","value":"${b}"},{"key":"f","type":"double","value":"${f}","tsField":"${when.at}","dayfirst":true},
		{"key":"j","type":"json","value":"${o}"}]}`), &cfg)
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewJSON(&cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{benchPayload, `[{"name":"a","v":"1.5","k":"x"},{"name":"a","b":"on"}]`,
		`{"name":"n","a":[{"b":1}],"c":null,"when":{"at":"10.11.25 10:35"},"f":"1e400","o":{"x":[]}}`, `"text"`, `[1,2]`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		out, _ := c.Convert("t/p", []byte(payload), now)
		for _, d := range out {
			if d.Device == "" {
				t.Fatal("empty device name in output")
			}
			for _, p := range append(d.Attributes, d.Telemetry...) {
				switch v := p.Value.(type) {
				case int64, float64, bool, string:
				case json.RawMessage:
					if !json.Valid(v) {
						t.Fatalf("invalid JSON value %q", v)
					}
				default:
					t.Fatalf("value of type %T", p.Value)
				}
			}
		}
	})
}
