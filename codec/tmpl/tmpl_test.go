package tmpl

import (
	"encoding/json"
	"testing"

	"github.com/tbgw/tbgw/codec/jpath"
)

func TestAppend(t *testing.T) {
	d, err := jpath.Parse([]byte(`{"Developer":"Tester","hum":45.0,"t":{"a":[1, 2]},"device name":"D 1","flag":true,"n":null,
		"1/0/5":"knx","meter_value":[{"sampled_value":[{"value":"10"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tmpl    string
		m       Missing
		want    string
		missing int
	}{
		{"${Developer}:${hum}", MissingEmpty, "Tester:45.0", 0},
		{"${Developer}:${nope}", MissingNull, "Tester:null", 1},
		{"${Developer}:${nope}", MissingKeep, "Tester:${nope}", 1},
		{"${Developer}:${n}", MissingEmpty, "Tester:", 1},
		{"${t}", MissingEmpty, `{"a":[1,2]}`, 0},
		{"${t.a[1]}", MissingEmpty, `2`, 0},
		{"${device name}", MissingEmpty, `D 1`, 0},
		{"${flag}", MissingEmpty, `true`, 0},
		{"${1/0/5}", MissingEmpty, `knx`, 0},
		{"${meter_value[:].sampled_value[:].value}", MissingEmpty, `10`, 0},
		{"constant", MissingEmpty, `constant`, 0},
		{"", MissingEmpty, ``, 0},
		{"$ {x} ${", MissingEmpty, ``, -1},
		{"a${}b", MissingKeep, `a${}b`, 1},
	}
	for _, tc := range tests {
		tp, err := Compile(tc.tmpl)
		if tc.missing < 0 {
			if err == nil {
				t.Errorf("%q: no error", tc.tmpl)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		got, missing := tp.Append(nil, d, d.Root(), tc.m)
		if string(got) != tc.want || missing != tc.missing {
			t.Errorf("%q: got %q/%d want %q/%d", tc.tmpl, got, missing, tc.want, tc.missing)
		}
	}
	if tp := MustCompile("${a}"); !tp.Single() || tp.IsConst() {
		t.Error("Single")
	}
	if tp := MustCompile("x${a}"); tp.Single() || tp.NumVars() != 1 || tp.Vars()[0] != "a" {
		t.Error("not Single")
	}
}

func TestDownlink(t *testing.T) {
	tests := []struct {
		name, tmpl string
		vars       Vars
		payload    bool
		want       string
	}{
		// tests/unit/connectors/mqtt/test_on_attribute_updates.py
		{"attribute topic", "sensor/${deviceName}/firmwareVersion", Vars{Device: "SN-002", Key: "firmwareVersion", Value: 6.6}, false,
			"sensor/SN-002/firmwareVersion"},
		{"attribute value", `{"${attributeKey}":"${attributeValue}"}`, Vars{Device: "SN-002", Key: "firmwareVersion", Value: 6.6}, true,
			`{"firmwareVersion":"6.6"}`},
		{"attribute value types", `${attributeValue}|`, Vars{Value: map[string]any{"a": []any{1.0, true}}}, true, `{"a":[1,true]}|`},
		{"bool value", `${attributeValue}`, Vars{Value: false}, true, `false`},
		{"nil value", `${attributeValue}`, Vars{}, true, `null`},
		{"int float", `${attributeValue}`, Vars{Value: 6.0}, true, `6`},
		{"raw string", `${attributeValue}`, Vars{Value: json.RawMessage(`"on"`)}, true, `on`},
		{"rpc topic", "sensor/${deviceName}/request/${methodName}/${requestId}", Vars{Device: "D", Method: "getRelay", RequestID: "42"}, false,
			"sensor/D/request/getRelay/42"},
		{"rpc params object", "${params}", Vars{Params: json.RawMessage(`{"a": 1, "b": "x"}`)}, true, `{"a":1,"b":"x"}`},
		{"rpc params string", "${params}", Vars{Params: json.RawMessage(`"on"`)}, true, `"on"`},
		{"rpc params.x", `{"v":${params.b},"w":${params.a}}`, Vars{Params: json.RawMessage(`{"a": 1, "b": "x"}`)}, true, `{"v":"x","w":1}`},
		{"topic params.x", `dev/${params.b}/${params.c.d}`, Vars{Params: json.RawMessage(`{"b": "x", "c": {"d": 2}}`)}, false, `dev/x/2`},
		{"unknown kept", `${deviceName}/${other}/${params.zz}`, Vars{Device: "D", Params: json.RawMessage(`{}`)}, true, `D/${other}/${params.zz}`},
		{"bad params", `${params}`, Vars{Params: json.RawMessage(`{`)}, true, `${params}`},
		{"rest id", `${restId}`, Vars{RequestID: "7"}, false, `7`},
	}
	for _, tc := range tests {
		tp := MustCompile(tc.tmpl)
		var got string
		if tc.payload {
			got = tp.Payload(&tc.vars)
		} else {
			got = tp.Topic(&tc.vars)
		}
		if got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"${a}", "x${a.b[0]}y${c}", "${", "${$..x}", "${params.a}", "}${}{"} {
		f.Add(s)
	}
	d, _ := jpath.Parse([]byte(`{"a":{"b":[1,"x"]},"c":null}`))
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Compile(s)
		if err != nil {
			return
		}
		_, _ = tp.Append(nil, d, d.Root(), MissingKeep)
		_ = tp.Payload(&Vars{Params: json.RawMessage(`{"a":1}`)})
		if tp.IsConst() && tp.String() != s {
			t.Fatal("constant changed")
		}
	})
}
