package canval

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// FuzzUplink: any value spec, expression and payload give a value or an
// error, never a panic; an accepted value is a datapoint value.
func FuzzUplink(f *testing.F) {
	seedFile(f, "testdata/uplink.jsonl", func(line []byte) {
		var c struct{ Value, Expression, Data string }
		if json.Unmarshal(line, &c) == nil {
			data, _ := hex.DecodeString(c.Data)
			f.Add(c.Value, c.Expression, data)
		}
	})
	f.Fuzz(func(t *testing.T, spec, expression string, payload []byte) {
		v, err := ParseValue(spec)
		if err != nil {
			return
		}
		it := Item{Value: v}
		if expression != "" {
			if it.Expr, err = CompileExpr(expression, false); err != nil {
				return
			}
		}
		got, err := it.Decode(payload)
		if err != nil {
			return
		}
		switch got.(type) {
		case bool, int64, float64, string, json.RawMessage:
		default:
			t.Fatalf("%q on %x: value of type %T", spec, payload, got)
		}
	})
}

// FuzzDownlink: any encoder configuration and JSON data give a payload of
// at most MaxPayload bytes or an error, never a panic.
func FuzzDownlink(f *testing.F) {
	seedFile(f, "testdata/downlink.jsonl", func(line []byte) {
		var c struct {
			Config EncoderConfig
			Data   json.RawMessage
		}
		if json.Unmarshal(line, &c) == nil {
			cfg, _ := json.Marshal(c.Config)
			f.Add(cfg, []byte(c.Data))
		}
	})
	f.Fuzz(func(t *testing.T, cfg, data []byte) {
		var c EncoderConfig
		if json.Unmarshal(cfg, &c) != nil {
			return
		}
		e, err := NewEncoder(c)
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil {
			return
		}
		out, err := e.Encode(m)
		if err == nil && len(out) > MaxPayload {
			t.Fatalf("payload of %d bytes", len(out))
		}
	})
}

func seedFile(f *testing.F, file string, each func([]byte)) {
	b, err := os.ReadFile(file)
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			each(line)
		}
	}
}
