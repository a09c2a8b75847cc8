package request

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/drivers/drivertest"
)

// Upstream's request converter tests as data, through the connector's own
// response path (everything after the HTTP exchange).
func TestUpstreamConverterVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/upstream/json_uplink.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		About string `json:"about"`
		Cases []struct {
			Upstream string          `json:"upstream"`
			Mapping  json.RawMessage `json:"mapping"`
			Body     json.RawMessage `json:"body"`
			Expect   expectation     `json:"expect"`
			// Difference: what tbgw does instead, and why.
			Difference *struct {
				Why    string      `json:"why"`
				Expect expectation `json:"expect"`
			} `json:"difference"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 6 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	for _, tc := range file.Cases {
		t.Run(tc.Upstream, func(t *testing.T) {
			exp := tc.Expect
			if tc.Difference != nil {
				if tc.Difference.Why == "" {
					t.Fatal("difference without a reason")
				}
				exp = tc.Difference.Expect
			}
			cfg := []byte(`{"host":"http://127.0.0.1:1","mapping":[` + string(tc.Mapping) + `]}`)
			c, err := New(cfg, drivertest.Env(t, "Request", "request"))
			if err != nil {
				t.Fatal(err)
			}
			e := c.(*Connector).plan.endpoints[0]
			payload, err := c.(*Connector).prepare(context.Background(), e, tc.Body)
			if err != nil {
				t.Fatal(err)
			}
			data, err := e.conv.Convert(e.url, payload, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := decodeUseNumber(t, exp.Telemetry)
			if len(want.(map[string]any)) == 0 {
				for _, d := range data {
					if len(d.Telemetry) > 0 {
						t.Fatalf("telemetry sent: %+v", data)
					}
				}
				return
			}
			if len(data) != 1 {
				t.Fatalf("%d messages: %+v", len(data), data)
			}
			d := data[0]
			if d.Device != exp.Device || d.Type != exp.Type {
				t.Errorf("device %q type %q, want %q %q", d.Device, d.Type, exp.Device, exp.Type)
			}
			got := append(append([]byte{'{'}, tbjson.AppendMembers(nil, d.Telemetry)...), '}')
			if !reflect.DeepEqual(decodeUseNumber(t, got), want) {
				t.Errorf("telemetry %s, want %s", got, exp.Telemetry)
			}
		})
	}
}

type expectation struct {
	Device    string          `json:"device"`
	Type      string          `json:"type"`
	Telemetry json.RawMessage `json:"telemetry"`
}

// decodeUseNumber keeps number literals as written (21 and 21.0 differ).
func decodeUseNumber(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}
