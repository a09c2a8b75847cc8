package drivertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// Comparisons for upstream's test vectors: values as tbgw sends them
// against values as upstream's tests expect them.

// SameStored compares a value as tbgw sends it with one as upstream's test
// read it back from ThingsBoard, which stores numbers as long or double and
// returns them as strings: numbers compare by value, everything else by
// JSON text.
func SameStored(got, want json.RawMessage) error {
	var ws string
	if json.Unmarshal(want, &ws) == nil {
		if !json.Valid([]byte(ws)) || (len(ws) > 0 && ws[0] != '[' && ws[0] != '{' && !isNumber(ws) && ws != "true" && ws != "false") {
			want, _ = json.Marshal(ws) // a plain string value
		} else {
			want = json.RawMessage(ws)
		}
	}
	if isNumber(string(got)) && isNumber(string(want)) {
		if numEqual(string(got), string(want)) {
			return nil
		}
		return fmt.Errorf("got %s, want %s", got, want)
	}
	return SameJSON(got, want)
}

// SameJSON compares two JSON texts; numbers must agree in value and in
// kind (an integer is not a float: ThingsBoard stores a long and a double
// differently). -0.0 equals 0.0, as in Python.
func SameJSON(got, want []byte) error {
	var g, w any
	for _, x := range []struct {
		b []byte
		v *any
	}{{got, &g}, {want, &w}} {
		d := json.NewDecoder(bytes.NewReader(x.b))
		d.UseNumber()
		if err := d.Decode(x.v); err != nil {
			return fmt.Errorf("%s: %v", x.b, err)
		}
	}
	return sameValue(g, w, "$")
}

func sameValue(g, w any, path string) error {
	switch wv := w.(type) {
	case json.Number:
		gv, ok := g.(json.Number)
		if !ok {
			return fmt.Errorf("%s: got %v, want number %s", path, g, wv)
		}
		if isFloatToken(string(gv)) != isFloatToken(string(wv)) {
			return fmt.Errorf("%s: got %s, want %s (integer and float differ)", path, gv, wv)
		}
		if !numEqual(string(gv), string(wv)) {
			return fmt.Errorf("%s: got %s, want %s", path, gv, wv)
		}
		return nil
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Errorf("%s: got %v, want %v", path, g, w)
		}
		for i := range wv {
			if err := sameValue(gv[i], wv[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Errorf("%s: got %v, want %v", path, g, w)
		}
		for k := range wv {
			if err := sameValue(gv[k], wv[k], path+"."+k); err != nil {
				return err
			}
		}
		return nil
	}
	if g != w {
		return fmt.Errorf("%s: got %v, want %v", path, g, w)
	}
	return nil
}

func isNumber(s string) bool {
	_, ok := new(big.Float).SetString(s)
	return ok && s != "" && s != "Inf" && !strings.ContainsAny(s, "xXpP_")
}

func isFloatToken(s string) bool { return strings.ContainsAny(s, ".eE") }

// numEqual compares decimal texts as the float64 (or exact integer) they
// stand for.
func numEqual(a, b string) bool {
	if !isFloatToken(a) && !isFloatToken(b) {
		x, _ := new(big.Int).SetString(a, 10)
		y, _ := new(big.Int).SetString(b, 10)
		return x != nil && y != nil && x.Cmp(y) == 0
	}
	x, _, err1 := big.ParseFloat(a, 10, 53, big.ToNearestEven)
	y, _, err2 := big.ParseFloat(b, 10, 53, big.ToNearestEven)
	if err1 != nil || err2 != nil {
		return false
	}
	fx, _ := x.Float64()
	fy, _ := y.Float64()
	return fx == fy
}
