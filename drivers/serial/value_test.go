package serial

import (
	"encoding/json"
	"errors"
	"testing"
)

func ip(i int) *int { return &i }

func TestCut(t *testing.T) {
	cases := []struct {
		c    cut
		in   string
		want string
		err  error
	}{
		{cut{from: ip(4), to: ip(-1)}, "23.5\rSN01\n", "\rSN01", nil},
		{cut{from: ip(1), to: ip(3)}, "abcdef", "bc", nil}, // upstream slices [to:from] here
		{cut{from: ip(10)}, "abc", "", errAbsent},
		{cut{to: ip(-10)}, "abc", "", errAbsent},
		{cut{from: ip(-2)}, "abcd", "cd", nil},
		{cut{fromDelim: "T="}, "x T=5", "5", nil},
		{cut{fromDelim: "T="}, "x", "", errAbsent},
		{cut{untilDelim: "\r"}, "12\r34", "12", nil},
		{cut{untilDelim: "#"}, "12", "12", nil},
		{cut{fromDelim: "<", untilDelim: ">"}, "a>b<c>d", "c", nil},
	}
	for _, c := range cases {
		got, err := c.c.apply([]byte(c.in))
		if !errors.Is(err, c.err) || (err == nil && string(got) != c.want) {
			t.Errorf("%+v on %q: %q, %v; want %q, %v", c.c, c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseValue(t *testing.T) {
	cases := []struct {
		typ, in string
		want    any
		bad     bool
	}{
		{"string", " SN-1 \n", "SN-1", false},
		{"string", "\xff", nil, true},
		{"int", " -42\r\n", int64(-42), false},
		{"int", "1_000", int64(1000), false},
		{"int", "4.2", nil, true},
		{"float", "23.5\n", 23.5, false},
		{"double", "1e3", 1000.0, false},
		{"float", "nan", nil, true},
		{"bool", "0", false, false},
		{"bool", "2", true, false},
		{"bool", " TRUE ", true, false},
		{"bool", "yes", false, false},
		{"json", `{"a":1}`, json.RawMessage(`{"a":1}`), false},
		{"json", `12`, int64(12), false},
		{"json", `1.5`, 1.5, false},
		{"json", `"s"`, "s", false},
		{"json", `{`, nil, true},
		{"hex", "\x01\xff", "01ff", false},
	}
	for _, c := range cases {
		got, err := parseValue(c.typ, []byte(c.in))
		if c.bad {
			if err == nil || errors.Is(err, errAbsent) {
				t.Errorf("%s %q: want an error, got %v, %v", c.typ, c.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", c.typ, c.in, err)
			continue
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(c.want)
		if string(gj) != string(wj) {
			t.Errorf("%s %q: got %s want %s", c.typ, c.in, gj, wj)
		}
	}
	for _, typ := range []string{"string", "int", "float", "bool", "json", "hex"} {
		if _, err := parseValue(typ, []byte("  ")); typ != "hex" && !errors.Is(err, errAbsent) {
			t.Errorf("%s of blanks: %v", typ, err)
		}
	}
}

func TestEncodeParams(t *testing.T) {
	cases := []struct {
		typ, params string
		big         bool
		want        string
		bad         bool
	}{
		{"int", "258", true, "\x01\x02", false},
		{"int", "258", false, "\x02\x01", false},
		{"int", `"7"`, true, "\x07", false},
		{"int", "0", true, "\x00", false},
		{"int", "-1", true, "\xff", false},
		{"int", "-129", true, "\xff\x7f", false},
		{"int", "1.5", true, "", true},
		{"float", "1.5", true, "\x3f\xc0\x00\x00", false},
		{"double", "0.1", true, "\x3f\xb9\x99\x99\x99\x99\x99\x9a", false},
		{"string", `"abc"`, true, "abc", false},
		{"string", `{"a":1}`, true, `{"a":1}`, false},
		{"string", `null`, true, "", true},
		{"string", `""`, true, "", true},
	}
	for _, c := range cases {
		got, err := encodeParams(c.typ, json.RawMessage(c.params), c.big)
		if c.bad != (err != nil) || string(got) != c.want {
			t.Errorf("%s %s: %q, %v; want %q", c.typ, c.params, got, err, c.want)
		}
	}
}

func TestRender(t *testing.T) {
	got := render("${deviceName}/${deviceType}: ${k}=${k}\n", "k", 1.5, "D", "T")
	if got != "D/T: 1.5=1.5\n" {
		t.Fatal(got)
	}
	if got := render("v=${k}", "k", true, "", ""); got != "v=true" {
		t.Fatal(got)
	}
}

func TestBadConfigs(t *testing.T) {
	bad := map[string]string{
		`{}`:                                                                  "devices",
		`{"devices":[{"baudrate":-1}]}`:                                       "devices[0].baudrate",
		`{"devices":[{"parity":"X"}]}`:                                        "devices[0].parity",
		`{"devices":[{"bytesize":9}]}`:                                        "devices[0].bytesize",
		`{"devices":[{"stopbits":3}]}`:                                        "devices[0].stopbits",
		`{"devices":[{"telemetry":[{"type":"int"}]}]}`:                        "devices[0].telemetry[0].key",
		`{"devices":[{"telemetry":[{"key":"a","type":"blob"}]}]}`:             "devices[0].telemetry[0].type",
		`{"devices":[{"name":"a","port":"x"},{"name":"a","port":"y"}]}`:       "devices[1].name",
		`{"devices":[{"name":"a","port":"x"},{"name":"b","port":"x"}]}`:       "devices[1].port",
		`{"devices":[{"serverSideRpc":[{"method":"m"},{"method":"m"}]}]}`:     "devices[0].serverSideRpc[1].method",
		`{"devices":[{"serverSideRpc":[{"method":"m","responseType":"q"}]}]}`: "devices[0].serverSideRpc[0].responseType",
		`{"devices":[{"delimiter":""}]}`:                                      "devices[0].delimiter",
		`{"devices":"x"}`:                                                     "devices",
	}
	for cfg, path := range bad {
		_, err := New([]byte(cfg), drivertestEnv(t))
		if err == nil || !contains(err.Error(), path) {
			t.Errorf("%s: %v (want an error at %s)", cfg, err, path)
		}
	}
}
