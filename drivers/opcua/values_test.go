package opcua

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
)

func TestParseRefs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind refKind
		str  string
	}{
		{"${Temperature}", refRelative, "Temperature"},
		{`${Nested\.Deep\.Value}`, refRelative, `Nested\.Deep\.Value`},
		{`${Root\.Objects\.MyObject\.Power}`, refAbsolute, `Root\.Objects\.MyObject\.Power`},
		{`${1:Types\.0:Double}`, refRelative, `1:Types\.0:Double`},
		{"${ns=2;i=1003}", refNodeID, "ns=2;i=1003"},
		{"ns=2;s=A.B", refNodeID, "ns=2;s=A.B"},
		{"x ${ns=3;g=1E14849E-3744-470D-8C7B-5F9110C2FA32} y", refNodeID, "ns=3;g=1E14849E-3744-470D-8C7B-5F9110C2FA32"},
		{"Constant text", refConstant, "Constant text"},
		{`${My.Dotted.Name}`, refRelative, "My.Dotted.Name"},
	} {
		r, err := parseValueRef(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if r.kind != tc.kind || r.String() != tc.str {
			t.Errorf("%s: kind %d %q, want %d %q", tc.in, r.kind, r.String(), tc.kind, tc.str)
		}
	}
	for _, tc := range []struct {
		in   string
		kind refKind
		str  string
	}{
		{"Root.Objects.X.Y", refAbsolute, `Root\.Objects\.X\.Y`},
		{`Root\.Objects\.X`, refAbsolute, `Root\.Objects\.X`},
		{"${Relay}", refRelative, "Relay"},
		{"Pressure", refRelative, "Pressure"},
		{"ns=1;b=AQIDBA==", refNodeID, "ns=1;b=AQIDBA=="},
		{"i=2258", refNodeID, "i=2258"},
	} {
		r, err := parseTarget(tc.in)
		if err != nil || r.kind != tc.kind || r.String() != tc.str {
			t.Errorf("target %s: %v kind %d %q", tc.in, err, r.kind, r.String())
		}
	}
	for _, bad := range []string{"", `A\.\.B`, "Root", "${}"} {
		if _, err := parseTarget(bad); err == nil {
			t.Errorf("target %q: no error", bad)
		}
	}
}

func TestParseSetParams(t *testing.T) {
	for _, tc := range []struct{ in, target, value string }{
		{`Root\.Objects\.TempSensor\.Pressure; 90.25`, `Root\.Objects\.TempSensor\.Pressure`, "90.25"},
		{"ns=3;i=9; 456.34", "ns=3;i=9", "456.34"},
		{"ns=3;i=9;=5", "ns=3;i=9", "5"},
		{"ns=3;s=A B", "ns=3;s=A", "B"},
		{"Pressure=7;", "Pressure", "7"},
		{"Pressure 7", "Pressure", "7"},
		{"Pressure;=7", "Pressure", "7"},
		{"Text; hello world", "Text", "hello world"},
	} {
		target, value, ok := parseSetParams(tc.in)
		if !ok || target != tc.target || value != tc.value {
			t.Errorf("%q: %q %q %v, want %q %q", tc.in, target, value, ok, tc.target, tc.value)
		}
	}
	for _, bad := range []string{"Pressure", "a=b=c", "ns=3;i=9", ""} {
		if _, _, ok := parseSetParams(bad); ok {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestConvertValues(t *testing.T) {
	guid := ua.NewGUID("72962B91-FA75-4AE6-8D28-B404DC7DAF63")
	for _, tc := range []struct {
		in   any
		want any
	}{
		{true, true},
		{int8(-1), int64(-1)},
		{uint64(1 << 63), float64(1 << 63)},
		{float32(1.1), 1.1},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05+00:00"},
		{time.Date(2024, 1, 2, 3, 4, 5, 1500, time.FixedZone("x", 3600)), "2024-01-02T02:04:05.000001+00:00"},
		{guid, "72962b91-fa75-4ae6-8d28-b404dc7daf63"},
		{[]byte{1, 0xab}, "01ab"},
		{ua.XMLElement("<x/>"), "<x/>"},
		{ua.NewStringNodeID(2, "A"), "ns=2;s=A"},
		{ua.NewExpandedNodeID(ua.NewNumericNodeID(0, 5), "urn:x", 0), "nsu=urn:x;i=5"},
		{ua.StatusBadTimeout, "BadTimeout"},
		{ua.StatusBadNodeIDUnknown, "BadNodeIdUnknown"},
		{&ua.QualifiedName{NamespaceIndex: 3, Name: "Q"}, "3:Q"},
		{ua.NewLocalizedTextWithLocale("Hi", "en"), "Hi"},
		{[]float32{1.5, 2}, json.RawMessage("[1.5,2]")},
		{[]*ua.LocalizedText{ua.NewLocalizedText("a")}, json.RawMessage(`["a"]`)},
		{[][]int32{{1, 2}, {3, 4}}, json.RawMessage("[[1,2],[3,4]]")},
		{ua.MustVariant(int32(3)), int64(3)},
		{nil, nil},
	} {
		got := convertValue(tc.in)
		if !sameValue(got, tc.want) {
			t.Errorf("%#v: %#v (%T), want %#v", tc.in, got, got, tc.want)
		}
	}
	node := ua.NewStringNodeID(1, "N")
	if v, ok := dataValue(&ua.DataValue{Status: ua.StatusBadNodeIDUnknown}, node); !ok ||
		v != "Bad status code: BadNodeIdUnknown for node: ns=1;s=N with description "+statusText(ua.StatusBadNodeIDUnknown) {
		t.Errorf("bad status: %v", v)
	}
	if _, ok := dataValue(&ua.DataValue{Value: &ua.Variant{}}, node); ok {
		t.Error("null value reported")
	}
}

func TestCast(t *testing.T) {
	for _, tc := range []struct {
		typ   ua.TypeID
		array bool
		in    any
		want  any
	}{
		{ua.TypeIDDouble, false, "90.25", 90.25},
		{ua.TypeIDInt32, false, int64(5), int32(5)},
		{ua.TypeIDInt32, false, "7", int32(7)},
		{ua.TypeIDByte, false, 3.0, uint8(3)},
		{ua.TypeIDBoolean, false, "on", true},
		{ua.TypeIDString, false, 1.5, "1.5"},
		{ua.TypeIDFloat, false, int64(2), float32(2)},
		{ua.TypeIDDouble, true, []any{1.0, int64(2)}, []float64{1, 2}},
		{ua.TypeIDInt16, true, "[1,2]", []int16{1, 2}},
	} {
		v, err := toVariant(tc.typ, tc.array, tc.in)
		if err != nil {
			t.Errorf("%v %v: %v", tc.typ, tc.in, err)
			continue
		}
		got, _ := json.Marshal(v.Value())
		want, _ := json.Marshal(tc.want)
		if string(got) != string(want) || v.Type() != tc.typ {
			t.Errorf("%v %v: %s (%v)", tc.typ, tc.in, got, v.Type())
		}
	}
	for _, tc := range []struct {
		typ ua.TypeID
		in  any
	}{{ua.TypeIDByte, int64(300)}, {ua.TypeIDInt32, "x"}, {ua.TypeIDBoolean, "maybe"}, {ua.TypeIDGUID, "nope"}} {
		if _, err := toVariant(tc.typ, false, tc.in); err == nil {
			t.Errorf("%v %v: no error", tc.typ, tc.in)
		}
	}
}

func TestMethodArgs(t *testing.T) {
	two := &methodSpec{name: "m", args: []argSpec{{value: int64(2)}, {value: int64(4)}}}
	none := &methodSpec{name: "m"}
	partial := &methodSpec{name: "m", args: []argSpec{{value: int64(2)}, {}}}
	for _, tc := range []struct {
		spec   *methodSpec
		params any
		want   string
	}{
		{two, nil, "[2,4]"},
		{two, []any{int64(7), int64(8)}, "[7,8]"},
		{two, []any{int64(7)}, "error: Expected 2 arguments, but got 1"},
		{two, "x", "error: The arguments must be specified in the square quotes []"},
		{none, nil, "null"},
		{none, int64(3), "[3]"},
		{partial, nil, "error: You must either define values for arguments in config or along with rpc request"},
		{partial, []any{int64(1), int64(2)}, "[1,2]"},
	} {
		args, err := methodArgs(tc.spec, tc.params)
		got := jsonText(args)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v %v: %s, want %s", tc.spec.args, tc.params, got, tc.want)
		}
	}
}

func TestPyString(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{{true, "True"}, {false, "False"}, {2.0, "2.0"}, {1.25, "1.25"}, {int64(3), "3"}, {"x", "x"}, {nil, "None"}} {
		if got := pyString(tc.in); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBackoffCap(t *testing.T) {
	c := &Connector{cfg: &settings{backoffInitial: time.Second, backoffFactor: 2, sessionTimeout: 10 * time.Second}}
	if d := c.maxDelay(); d != 8*time.Second {
		t.Fatalf("cap %v, want 0.8 x session timeout", d)
	}
	c.cfg.sessionTimeout = time.Hour
	if d := c.maxDelay(); d != time.Minute {
		t.Errorf("cap %v, want 1m", d)
	}
}
