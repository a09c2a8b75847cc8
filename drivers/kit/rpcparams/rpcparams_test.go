package rpcparams

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in     string
		greedy []string
		want   map[string]string
		keys   []string
	}{
		{"type=16int;functionCode=6;objectsCount=1;address=2;value=10;", nil,
			map[string]string{"type": "16int", "functionCode": "6", "objectsCount": "1", "address": "2", "value": "10"},
			[]string{"type", "functionCode", "objectsCount", "address", "value"}},
		{"objectType=analogInput;objectId=1;propertyId=presentValue", nil,
			map[string]string{"objectType": "analogInput", "objectId": "1", "propertyId": "presentValue"}, nil},
		{" a = 1 ;;noequals;=x;b=c=d;", nil, map[string]string{"a": " 1 ", "b": "c=d"}, []string{"a", "b"}},
		{"url=/x;value={\"a\":1;\"b\":2};", []string{"value"}, map[string]string{"url": "/x", "value": "{\"a\":1;\"b\":2}"}, nil},
		{"a=1;a=2", nil, map[string]string{"a": "2"}, []string{"a"}},
		{"", nil, map[string]string{}, []string{}},
		{"value=;", []string{"value"}, map[string]string{"value": ""}, nil},
	}
	for _, c := range cases {
		p := Parse(c.in, c.greedy...)
		if !reflect.DeepEqual(p.Map(), c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.in, p.Map(), c.want)
		}
		if c.keys != nil && !(len(c.keys) == 0 && p.Len() == 0) && !reflect.DeepEqual(p.Keys(), c.keys) {
			t.Errorf("Parse(%q) keys %v, want %v", c.in, p.Keys(), c.keys)
		}
	}
}

func TestTyped(t *testing.T) {
	p := Parse("n=0x10;f=2.5;b=TRUE;bad=x;")
	if n, err := p.Int("n", 0); n != 16 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := p.Int("missing", 7); n != 7 || err != nil {
		t.Fatal(n, err)
	}
	if _, err := p.Int("bad", 0); err == nil {
		t.Fatal("want error")
	}
	if f, err := p.Float("f", 0); f != 2.5 || err != nil {
		t.Fatal(f, err)
	}
	if b, err := p.Bool("b", false); !b || err != nil {
		t.Fatal(b, err)
	}
	if err := p.Require("n", "zz"); err == nil || err.Error() != "missing zz in params" {
		t.Fatal(err)
	}
	if p.String("missing", "d") != "d" || !p.Has("bad") {
		t.Fatal("String/Has")
	}
}

func TestFromJSON(t *testing.T) {
	p, err := FromJSON(json.RawMessage(`"a=1;value=x;y"`), "value")
	if err != nil || p.Map()["value"] != "x;y" {
		t.Fatal(p.Map(), err)
	}
	if _, err := FromJSON(json.RawMessage(`{"a":1}`)); err == nil {
		t.Fatal("want error for an object")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=1;b=2;", "value=x;y;", ";;=;", "k==v", "type=16int;functionCode=6;objectsCount=1;address=2;value=10;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Parse(s, "value")
		if len(p.Keys()) != len(p.Map()) {
			t.Fatalf("keys %v vs map %v", p.Keys(), p.Map())
		}
		for _, k := range p.Keys() {
			if k == "" {
				t.Fatal("empty key")
			}
		}
	})
}
