package jpath

import (
	"encoding/json"
	"testing"
)

const doc1 = `{
  "name": "dev 1", "a.b": 5, "device name": "spaced",
  "data": {"temperature": 21.5, "list": [1, 2.5, "x", null, true, {"k": "v"}]},
  "values": [{"v": 3}, {"v": 4, "w": 7}],
  "meter_value": [{"sampled_value": [{"value": "10"}, {"value": "11"}]}],
  "esc\"key": "q\u00e9\n", "big": 12345678901234567890, "exp": 1e3,
  "nested": {"deeper": {"target": "found"}}
}`

func TestPaths(t *testing.T) {
	d, err := Parse([]byte(doc1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{"name", `"dev 1"`},
		{"$.name", `"dev 1"`},
		{"$", ""}, // root: checked separately
		{"data.temperature", `21.5`},
		{"$.data.list[1]", `2.5`},
		{"data.list[-1].k", `"v"`},
		{"data.list[-1]", `{"k": "v"}`},
		{"values[*].w", `7`},
		{"values[1:].v", `4`},
		{"values[:1].w", ``},
		{"values.*.v", `3`},
		{`"device name"`, `"spaced"`},
		{`device name`, `"spaced"`},
		{`["a.b"]`, `5`},
		{`$['a.b']`, `5`},
		{`"esc\"key"`, `"q\u00e9\n"`},
		{"meter_value[:].sampled_value[:].value", `"10"`},
		{"meter_value[0].sampled_value[1].value", `"11"`},
		{"$..target", `"found"`},
		{"nested..target", `"found"`},
		{"$..v", `3`},
		{"missing", ``},
		{"data.list[99]", ``},
		{"name.sub", ``},
		{"data[0]", ``},
	}
	for _, tc := range tests {
		p, err := Compile(tc.path)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.path, err)
			continue
		}
		n := p.Eval(d, d.Root())
		if tc.path == "$" {
			if n != d.Root() {
				t.Errorf("$: got %d", n)
			}
			continue
		}
		if got := string(d.Raw(n)); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"a[", "a]", "[x]", "a..", "$foo", "a.'b", "[1:x]", `a."b`} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q): no error", bad)
		}
	}
}

func TestValues(t *testing.T) {
	d, err := Parse([]byte(doc1))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) Node { return MustCompileTest(path).Eval(d, d.Root()) }
	if v := d.Value(get("name")); v != "dev 1" {
		t.Errorf("name: %#v", v)
	}
	if v := d.Value(get("data.list[0]")); v != int64(1) {
		t.Errorf("int: %#v", v)
	}
	if v := d.Value(get("exp")); v != 1000.0 {
		t.Errorf("exp: %#v", v)
	}
	if v := d.Value(get("big")); v != 1.2345678901234567e19 {
		t.Errorf("big: %#v", v)
	}
	if v := d.Value(get("data.list[3]")); v != nil {
		t.Errorf("null: %#v", v)
	}
	if v := d.Value(get("data.list[4]")); v != true {
		t.Errorf("true: %#v", v)
	}
	if v, _ := d.Value(get("data")).(json.RawMessage); string(v) != `{"temperature":21.5,"list":[1,2.5,"x",null,true,{"k":"v"}]}` {
		t.Errorf("compact: %s", v)
	}
	if v := d.Str(get(`"esc\"key"`)); v != "qé\n" {
		t.Errorf("unescape: %q", v)
	}
	if n := d.Len(get("data.list")); n != 6 {
		t.Errorf("len %d", n)
	}
	if i, ok := d.Int(get("data.list[1]")); !ok || i != 2 {
		t.Errorf("Int(2.5) = %d %v", i, ok)
	}
	var keys []string
	d.Each(d.Root(), func(k []byte, _ Node) bool { keys = append(keys, string(k)); return len(keys) < 3 })
	if len(keys) != 3 || keys[2] != "device name" {
		t.Errorf("Each: %q", keys)
	}
}

func MustCompileTest(s string) *Path {
	p, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return p
}

func TestSyntax(t *testing.T) {
	good := []string{`1`, `-0.5e+3`, `"a\u1234\\"`, `[]`, `{}`, ` {"a" : [ 1 , {"b":null} ] } `, `true`, `"\ud83d\ude00"`}
	for _, s := range good {
		if _, err := Parse([]byte(s)); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
		if !json.Valid([]byte(s)) {
			t.Errorf("test bug: %q invalid", s)
		}
	}
	bad := []string{``, ` `, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `-`, `"\x"`, `"abc`, `tru`, `nul`, `[1 2]`, `{} {}`, "\"a\x01\"", `{1:2}`, `"\u12"`}
	for _, s := range bad {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("Parse(%q): no error", s)
		}
	}
	deep := make([]byte, 0, 2*MaxDepth+2)
	for i := 0; i <= MaxDepth; i++ {
		deep = append(deep, '[')
	}
	if _, err := Parse(deep); err == nil {
		t.Error("too deep: no error")
	}
}

func TestResetReuse(t *testing.T) {
	var d Doc
	for _, s := range []string{`{"a":1}`, `[1,2,3]`, `{"a":`, `"x"`} {
		err := d.Reset([]byte(s))
		if (err != nil) != (s == `{"a":`) {
			t.Errorf("%s: %v", s, err)
		}
		if err != nil && d.Root() != NoNode {
			t.Errorf("failed parse leaves a root")
		}
	}
}
