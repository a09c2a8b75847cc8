package expr

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestPythonVectors evaluates the expressions of testdata/python.jsonl,
// whose expected results were produced by CPython's eval().
func TestPythonVectors(t *testing.T) {
	f, err := os.Open("testdata/python.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var tc struct {
			Src  string
			Env  map[string]json.RawMessage
			Want json.RawMessage
		}
		if err := json.Unmarshal(sc.Bytes(), &tc); err != nil {
			t.Fatal(err)
		}
		n++
		p, err := Compile(tc.Src)
		if err != nil {
			t.Errorf("%s: %v", tc.Src, err)
			continue
		}
		vals := make([]any, len(p.Vars()))
		for i, name := range p.Vars() {
			raw, ok := tc.Env[name]
			if !ok {
				t.Fatalf("%s: no value for %s", tc.Src, name)
			}
			vals[i] = fromJSON(raw)
		}
		got, err := p.Eval(vals...)
		if err != nil {
			t.Errorf("%s: %v", tc.Src, err)
			continue
		}
		want := fromJSON(tc.Want)
		if !sameValue(got, want) {
			t.Errorf("%s: got %#v, want %#v", tc.Src, got, want)
		}
	}
	if n < 100 {
		t.Errorf("only %d vectors", n)
	}
}

// fromJSON decodes a vector value: ints stay int64, {"bytes": [...]} is
// []byte.
func fromJSON(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	return conv(v)
}

func conv(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			i, _ := x.Int64()
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = conv(x[i])
		}
		return x
	case map[string]any:
		if b, ok := x["bytes"].([]any); ok {
			out := make([]byte, len(b))
			for i, e := range b {
				out[i] = byte(conv(e).(int64))
			}
			return out
		}
	}
	return v
}

func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
	}
	return reflect.DeepEqual(a, b)
}

func TestExtensions(t *testing.T) {
	tests := []struct {
		src  string
		vars []any
		want any
	}{
		{"x > 2 ? 'big' : 'small'", []any{int64(3)}, "big"},
		{"x && !y || false", []any{true, false}, true},
		{"null == None", nil, true},
		{"x['a'] if false else 1", []any{int64(1)}, int64(1)},
		{"math.isnan(x)", []any{math.NaN()}, true},
	}
	for _, tc := range tests {
		p, err := Compile(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := p.Eval(tc.vars...)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, %v; want %#v", tc.src, got, err, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	bad := map[string]string{
		"":                                 "unexpected end",
		"1 +":                              "unexpected end",
		"foo(1)":                           "unknown function foo",
		"x.__class__":                      "attributes are not supported",
		"__import__('os')":                 "not allowed",
		"lambda x: x":                      "unexpected \"lambda\"",
		"x.upper":                          "attributes are not supported",
		"x.real":                           "attributes are not supported",
		"x.frobnicate()":                   "unknown method frobnicate",
		"(1, 2)":                           "tuples are not supported",
		"{'a': 1}":                         "unexpected character",
		"a = 1":                            `unexpected "="`,
		"round(1.5, digits=1)":             "unexpected keyword argument digits",
		"round(ndigits=1, 2.5)":            "positional argument follows keyword argument",
		"round(2.5, ndigits=1, ndigits=2)": "repeated",
		"int.from_bytes(signed=True)":      "missing argument bytes",
		"'x'.upper(a=1)":                   "no keyword arguments",
		"abs(1, 2)":                        "takes 1 arguments",
		"'abc":                             "unterminated string",
		"1 if x":                           "expected \"else\"",
		"[x for x in y for z in w]":        "nested comprehensions",
		"x[1:2:3]":                         "slice steps",
		"r'x'":                             "string prefixes",
		"012":                              "leading zeros",
		"abs":                              "must be called",
		"math.nope":                        "unknown name math.nope",
		"f(x)(y)":                          "only functions and methods can be called",
		"9223372036854775808":              "does not fit",
		"99999999999999999999":             "does not fit",
		"1 2":                              "unexpected number",
		"x.upper()()":                      "cannot call",
		strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500): "nested too deeply",
	}
	for src, want := range bad {
		_, err := Compile(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v, want error containing %q", src, err, want)
		}
	}
	if _, err := CompileWith("pow(value, 2)", Options{Vars: []string{"value"}, NoFuncs: true}); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("strict: %v", err)
	}
	if _, err := CompileWith("value * value", Options{Vars: []string{"value"}, NoFuncs: true}); err != nil {
		t.Errorf("strict: %v", err)
	}
	if _, err := CompileVars("value + x", "value"); err == nil || !strings.Contains(err.Error(), `unknown name "x"`) {
		t.Errorf("CompileVars: %v", err)
	}
}

func TestRuntimeErrors(t *testing.T) {
	bad := map[string][]any{
		"1 / x":     {int64(0)},
		"x % 0":     {1.5},
		"'a' + x":   {int64(1)},
		"x + 1":     {int64(math.MaxInt64)},
		"2 ** 64":   nil,
		"'ab' * x":  {int64(1 << 40)},
		"x[5]":      {[]byte("ab")},
		"int(x)":    {"abc"},
		"x < 'a'":   {int64(1)},
		"sqrt(-1)":  nil,
		"1 << 64":   nil,
		"x.upper()": {int64(1)},
		"[1][x]":    {"a"},
		"min([])":   nil,
	}
	for src, vars := range bad {
		p, err := Compile(src)
		if err != nil {
			t.Errorf("Compile(%q): %v", src, err)
			continue
		}
		if v, err := p.Eval(vars...); err == nil {
			t.Errorf("%s: got %#v, want error", src, v)
		}
	}
	p := MustCompileTest(t, "a + b")
	if _, err := p.Eval(int64(1)); err == nil {
		t.Error("wrong number of values accepted")
	}
	if v, err := p.EvalMap(map[string]any{"a": int64(1), "b": 2.5}); err != nil || v != 3.5 {
		t.Errorf("EvalMap: %v %v", v, err)
	}
	if got := p.Vars(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Vars: %v", got)
	}
}

func MustCompileTest(t *testing.T, s string) *Program {
	t.Helper()
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"1 + 2 * x", "[i for i in l if i is not None][0]", "a if b else c", "'x'.upper()[0:1]",
		"math.sqrt(abs(x)) ** 0.5", "x << 3 | ~y", "round(x, 2)", "-9223372036854775808 // -1", "'a' * 99999999",
		"'%5.2f %s %%' % [x, y]", "'{:>{}}'.format(x)", "'{:,.2f}|{0:^9}'.format(x)", "int.from_bytes(x, 'little', signed=True)",
		"divmod(x, 0)", "x.zfill(99999999)", "round(number=x, ndigits=y)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Compile(s)
		if err != nil {
			return
		}
		vals := make([]any, len(p.Vars()))
		for i := range vals {
			switch i % 4 {
			case 0:
				vals[i] = int64(i - 2)
			case 1:
				vals[i] = 2.5
			case 2:
				vals[i] = "ab"
			case 3:
				vals[i] = []any{int64(1), nil}
			}
		}
		_, _ = p.Eval(vals...)
	})
}

func BenchmarkCANExpression(b *testing.B) {
	p, err := CompileVars("value / 4 if value > 0 else -value", "value", "can_data")
	if err != nil {
		b.Fatal(err)
	}
	data := Bytes([]byte{1, 2, 3, 4})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(Int(1234), data); err != nil {
			b.Fatal(err)
		}
	}
}
