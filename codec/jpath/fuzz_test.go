package jpath

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse checks the scanner against encoding/json: the same documents
// are valid, and every value's compact form re-parses to the same data.
func FuzzParse(f *testing.F) {
	for _, s := range []string{doc1, `[]`, `{"a":[1,{"b":"\u00e9"}]}`, `-1.5e-3`, `"\ud83d"`, `[1,]`, `{"a" 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse(src)
		valid := json.Valid(src)
		if (err == nil) != valid {
			// The scanner enforces a depth limit encoding/json does not.
			if !(err != nil && bytes.Count(src, []byte("["))+bytes.Count(src, []byte("{")) > MaxDepth) {
				t.Fatalf("Parse err=%v, json.Valid=%v for %q", err, valid, src)
			}
		}
		if err != nil {
			return
		}
		root := d.Root()
		want, err := decode(src)
		if err != nil {
			t.Fatal(err)
		}
		compact := d.AppendCompact(nil, root)
		got, err := decode(compact)
		if err != nil {
			t.Fatalf("compact %q of %q: %v", compact, src, err)
		}
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if !bytes.Equal(wj, gj) {
			t.Fatalf("compact changed data: %s vs %s", wj, gj)
		}
		// Walk everything; nothing may panic.
		var walk func(n Node, depth int)
		walk = func(n Node, depth int) {
			_ = d.Value(n)
			_ = d.AppendText(nil, n)
			_, _ = d.Int(n)
			_ = d.Len(n)
			_ = d.Index(n, -1)
			d.Each(n, func(k []byte, v Node) bool {
				if k != nil {
					_ = d.Get(n, string(k))
				}
				walk(v, depth+1)
				return true
			})
		}
		walk(root, 0)
	})
}

// FuzzPath compiles arbitrary paths and evaluates them against a fixed
// document: errors are fine, panics are not.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"$.data.list[1]", "values[*].w", "$..target", `["a.b"]`, "[1:-1]", "a[", "..*", "$['x']", "*"} {
		f.Add(s)
	}
	d, err := Parse([]byte(doc1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Compile(s)
		if err != nil {
			return
		}
		n := p.Eval(d, d.Root())
		if n != NoNode && d.Kind(n) == Invalid {
			t.Fatalf("%q: invalid node %d", s, n)
		}
		_ = p.String()
	})
}

func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
