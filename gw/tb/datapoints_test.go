package tb

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCountDatapoints(t *testing.T) {
	long := `"` + strings.Repeat("x", 2100) + `"`
	cases := []struct {
		topic, payload string
		want           int
	}{
		{TopicGatewayTelemetry, `{"d1":[{"ts":1,"values":{"a":1,"b":2}},{"ts":2,"values":{"a":3}}],"d2":{"x":true}}`, 4},
		{TopicGatewayTelemetry, `{"d1":[{"a":1,"b":"s,}]"}]}`, 2},
		{TopicGatewayTelemetry, `{"d1":{"ts":5,"values":{"a":1,"b":2,"c":3}}}`, 3},
		{TopicGatewayTelemetry, `{}`, 0},
		{TopicGatewayTelemetry, `{"d1":[]}`, 0},
		{TopicGatewayAttributes, `{"d1":{"fw":"1.0","model":"x"},"d2":{"k":{"nested":[1,2,{"a":1}]}}}`, 3},
		{TopicGatewayAttributes, `{"d1":{"big":` + long + `}}`, 1 + 2110/1000},
		{TopicTelemetry, `[{"ts":1,"values":{"cpu":1,"mem":2}}]`, 2},
		{TopicTelemetry, `{"ts":1,"values":{"cpu":1}}`, 1},
		{TopicTelemetry, ` {"cpu":1,"mem":2,"ts":3} `, 3},
		{TopicTelemetry, `{"values":"not an object","x":1}`, 2},
		{TopicAttributes, `{"a":1}`, 0},
		{TopicGatewayConnect, `{"device":"x"}`, 0},
		{TopicGatewayTelemetry, `{"d1":[{"a":1}`, 1},
		{TopicGatewayTelemetry, `not json`, 1},
		{TopicTelemetry, ``, 1},
		{TopicTelemetry, `{"a\"b":1,"c\\":2}`, 2},
	}
	for _, c := range cases {
		if got := CountDatapoints(c.topic, []byte(c.payload)); got != c.want {
			t.Errorf("CountDatapoints(%s, %s) = %d, want %d", c.topic, c.payload, got, c.want)
		}
	}
}

func TestCountDatapointsNoAlloc(t *testing.T) {
	p := []byte(`{"d1":[{"ts":1,"values":{"a":1,"b":2}},{"ts":2,"values":{"a":3}}],"d2":{"x":true}}`)
	if n := testing.AllocsPerRun(100, func() { CountDatapoints(TopicGatewayTelemetry, p) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzCountDatapoints: never panics, never negative, and agrees with a
// reference count on valid gateway telemetry.
func FuzzCountDatapoints(f *testing.F) {
	for _, s := range []string{
		`{"d1":[{"ts":1,"values":{"a":1,"b":2}}],"d2":{"x":true}}`,
		`{"d":{"ts":1,"values":{"a":[1,{"b":"}"}]}}}`,
		`[{"ts":1,"values":{"a":1}}]`, `{"a":"\"","b":"\\"}`, `{"d":[[1],{"a":1}]}`, `[`, `{"`, `"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, topic := range []string{TopicGatewayTelemetry, TopicTelemetry} {
			n := CountDatapoints(topic, []byte(s))
			if n < 0 {
				t.Fatalf("negative count %d", n)
			}
		}
		var gw map[string][]map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &gw) != nil || len(s) > 900 {
			return
		}
		want := 0
		for _, recs := range gw {
			for _, r := range recs {
				if v, ok := r["values"]; ok && len(v) > 0 && v[0] == '{' {
					var vals map[string]json.RawMessage
					if json.Unmarshal(v, &vals) != nil {
						return
					}
					want += countKeys(v)
				} else {
					raw, _ := json.Marshal(r)
					want += countKeys(raw)
				}
			}
		}
		if want < 0 {
			return
		}
		if got := CountDatapoints(TopicGatewayTelemetry, []byte(s)); got != want {
			t.Fatalf("CountDatapoints(%q) = %d, reference %d", s, got, want)
		}
	})
}

// countKeys counts the members of a JSON object as written, duplicates
// included; -1 when it cannot tell.
func countKeys(obj []byte) int {
	d := json.NewDecoder(strings.NewReader(string(obj)))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return -1 << 20
	}
	n := 0
	for d.More() {
		if _, err := d.Token(); err != nil {
			return -1 << 20
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return -1 << 20
		}
		n++
	}
	return n
}
