package convert

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/tbjson"
)

// TestUpstreamMQTTVectors replays upstream's MQTT JSON uplink converter
// vectors (testdata/upstream-vectors/mqtt_json_uplink.json) through New and
// Convert, comparing values as ThingsBoard receives them (21 is not 21.0).
func TestUpstreamMQTTVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/upstream-vectors/mqtt_json_uplink.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Cases []struct {
			Upstream  string          `json:"upstream"`
			Converter json.RawMessage `json:"converter"`
			Topic     string          `json:"topic"`
			Payload   json.RawMessage `json:"payload"`
			Expect    []struct {
				Device     string          `json:"device"`
				Type       string          `json:"type"`
				Attributes json.RawMessage `json:"attributes"`
				Telemetry  json.RawMessage `json:"telemetry"`
			} `json:"expect"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, tc := range table.Cases {
		t.Run(tc.Upstream, func(t *testing.T) {
			var cfg Config
			if err := json.Unmarshal(tc.Converter, &cfg); err != nil {
				t.Fatal(err)
			}
			conv, err := New(&cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := conv.Convert(tc.Topic, tc.Payload, 1700000000000)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(tc.Expect) {
				t.Fatalf("%d messages, want %d: %+v", len(out), len(tc.Expect), out)
			}
			for i, want := range tc.Expect {
				got := out[i]
				if got.Device != want.Device || got.Type != want.Type {
					t.Errorf("[%d] device %q type %q, want %q %q", i, got.Device, got.Type, want.Device, want.Type)
				}
				sameObject(t, "attributes", got.Attributes, want.Attributes)
				sameObject(t, "telemetry", got.Telemetry, want.Telemetry)
			}
		})
	}
}

// sameObject compares points rendered as ThingsBoard gets them with a JSON
// object, number literals compared as written.
func sameObject(t *testing.T, what string, pts []codec.Point, want json.RawMessage) {
	t.Helper()
	rendered := append(append([]byte{'{'}, tbjson.AppendMembers(nil, pts)...), '}')
	if !reflect.DeepEqual(decodeNumbers(t, rendered), decodeNumbers(t, want)) {
		t.Errorf("%s %s, want %s", what, rendered, want)
	}
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}
