package convert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/field"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// The upstream sample configurations (testdata/upstream, unchanged) must
// compile: every JSON/bytes converter block, template and expression.
func TestUpstreamConverterBlocks(t *testing.T) {
	n := 0
	for _, name := range []string{"mqtt", "rest", "request"} {
		var file struct {
			Mapping []struct {
				Converter Config `json:"converter"`
			} `json:"mapping"`
		}
		readJSON(t, name, &file)
		for i, m := range file.Mapping {
			if _, err := New(&m.Converter, Options{}); err != nil {
				t.Errorf("%s mapping[%d]: %v", name, i, err)
			}
			n++
		}
	}
	if n != 10 {
		t.Errorf("compiled %d converter blocks, want 10", n)
	}
}

func TestUpstreamTemplates(t *testing.T) {
	// Every string value holding ${ compiles as a template.
	for _, name := range []string{"mqtt", "rest", "request", "xmpp", "ocpp"} {
		var doc any
		readJSON(t, name, &doc)
		walk(doc, func(s string) {
			if strings.Contains(s, "${") {
				if _, err := tmpl.Compile(s); err != nil {
					t.Errorf("%s: %q: %v", name, s, err)
				}
			}
		})
	}
}

func TestUpstreamExpressions(t *testing.T) {
	var can struct {
		Devices []struct {
			StrictEval *bool `json:"strictEval"`
			Attributes []struct {
				Value, Command, Expression string
			}
			Timeseries []struct {
				Value, Command, Expression string
			}
			AttributeUpdates []struct{ DataExpression string }
			ServerSideRpc    []struct{ DataExpression, DataInHex string }
		}
	}
	readJSON(t, "can", &can)
	for _, d := range can.Devices {
		strict := d.StrictEval == nil || *d.StrictEval
		items := append(d.Attributes, d.Timeseries...)
		for _, it := range items {
			if _, err := field.Parse(it.Value); err != nil {
				t.Errorf("can value: %v", err)
			}
			if it.Command != "" {
				if _, err := field.ParseCommand(it.Command); err != nil {
					t.Errorf("can command: %v", err)
				}
			}
			if it.Expression != "" {
				if _, err := expr.CompileWith(it.Expression, expr.Options{Vars: []string{"value", "can_data"}, NoFuncs: strict}); err != nil {
					t.Errorf("can expression: %v", err)
				}
			}
		}
		for _, u := range d.AttributeUpdates {
			if _, err := expr.Compile(u.DataExpression); err != nil {
				t.Errorf("can dataExpression: %v", err)
			}
		}
		for _, r := range d.ServerSideRpc {
			if r.DataExpression != "" {
				if _, err := expr.Compile(r.DataExpression); err != nil {
					t.Errorf("can dataExpression: %v", err)
				}
			}
			if r.DataInHex != "" {
				if _, err := field.ParseHex(r.DataInHex); err != nil {
					// "aa bb cc dd ee ff    aa bb aa bb cc d ee ff" is odd
					// in the sample; upstream's bytearray.fromhex rejects
					// it too.
					t.Logf("can dataInHex: %v", err)
				}
			}
		}
	}
	var odbc struct {
		Mapping struct {
			Device     struct{ Name string }
			Timeseries []struct{ Name, Value string }
		}
	}
	readJSON(t, "odbc", &odbc)
	row := map[string]any{"entity_id": "1e6", "str_v": nil, "long_v": int64(42), "dbl_v": nil, "bool_v": nil}
	p, err := expr.Compile(odbc.Mapping.Device.Name)
	if err != nil {
		t.Fatalf("odbc device name: %v", err)
	}
	if v, err := p.EvalMap(row); err != nil || v != "ODBC 1e6" {
		t.Errorf("odbc device name: %v %v", v, err)
	}
	p, err = expr.Compile(odbc.Mapping.Timeseries[0].Value)
	if err != nil {
		t.Fatalf("odbc value: %v", err)
	}
	if v, err := p.EvalMap(row); err != nil || v != int64(42) {
		t.Errorf("odbc value: %v %v", v, err)
	}
}

func init() {
	// The custom converters the samples name; a product would compile its
	// own in.
	for _, n := range []string{"CustomRestUplinkConverter", "CustomRequestUplinkConverter", "CustomMqttUplinkConverter"} {
		codec.RegisterUplink(n, func(json.RawMessage) (codec.Uplink, error) { return &testUplink{}, nil })
	}
	codec.RegisterUplink("TestScaleConverter", func(cfg json.RawMessage) (codec.Uplink, error) {
		var c struct{ Scale float64 }
		err := json.Unmarshal(cfg, &c)
		return &testUplink{c.Scale}, err
	})
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "upstream", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func walk(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}
