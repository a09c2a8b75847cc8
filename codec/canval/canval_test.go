package canval

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func readCases(t *testing.T, file string, each func(line []byte)) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		n++
		each(sc.Bytes())
	}
	if n == 0 {
		t.Fatalf("%s: no cases", file)
	}
}

func checkErr(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
	return true
}

// TestUplink runs testdata/uplink.jsonl: upstream's uplink converter tests
// (random values fixed) and the items of upstream's can.json.
func TestUplink(t *testing.T) {
	readCases(t, "testdata/uplink.jsonl", func(line []byte) {
		var c struct {
			Name, Value, Expression, Data, Err, CompileErr string
			Strict                                         bool
			Want                                           any
		}
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		t.Run(c.Name, func(t *testing.T) {
			v, err := ParseValue(c.Value)
			if err != nil {
				t.Fatal(err)
			}
			it := Item{Key: "k", Value: v}
			if c.Expression != "" {
				it.Expr, err = CompileExpr(c.Expression, c.Strict)
				if checkErr(t, err, c.CompileErr) {
					return
				}
			}
			data, _ := hex.DecodeString(c.Data)
			got, err := it.Decode(data)
			if checkErr(t, err, c.Err) {
				return
			}
			if !same(got, c.Want) {
				t.Fatalf("got %#v, want %#v", got, c.Want)
			}
		})
	})
}

func same(got, want any) bool {
	switch g := got.(type) {
	case int64:
		w, ok := want.(float64)
		return ok && float64(g) == w
	case float64:
		w, ok := want.(float64)
		return ok && g == w
	}
	return got == want
}

// TestDownlink runs testdata/downlink.jsonl: upstream's downlink converter
// tests and the attributeUpdates/serverSideRpc entries of can.json.
func TestDownlink(t *testing.T) {
	readCases(t, "testdata/downlink.jsonl", func(line []byte) {
		var c struct {
			Name, Want, Err, CompileErr string
			Config                      EncoderConfig
			Data                        json.RawMessage
		}
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		t.Run(c.Name, func(t *testing.T) {
			e, err := NewEncoder(c.Config)
			if checkErr(t, err, c.CompileErr) {
				return
			}
			dec := json.NewDecoder(bytes.NewReader(c.Data))
			dec.UseNumber()
			var data map[string]any
			if err := dec.Decode(&data); err != nil {
				t.Fatal(err)
			}
			got, err := e.Encode(data)
			if checkErr(t, err, c.Err) {
				return
			}
			if hex.EncodeToString(got) != c.Want {
				t.Fatalf("got %x, want %s", got, c.Want)
			}
		})
	})
}

func TestValueObject(t *testing.T) {
	payload := []byte{0, 0, 0, 0, 0xfc, 0xff}
	for raw, want := range map[string]any{
		`"4:2:little:int:signed"`: int64(-4),
		`{"start":4,"length":2,"byteorder":"little","type":"int","signed":true}`: int64(-4),
		`{"start":4,"length":-1,"type":"raw"}`:                                   "fcff",
		`{"start":0,"length":4,"type":"float"}`:                                  float64(0),
	} {
		v, err := ParseValueJSON(json.RawMessage(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := v.Decode(payload)
		if err != nil || got != want {
			t.Fatalf("%s: got %#v, %v; want %#v", raw, got, err, want)
		}
	}
	for _, raw := range []string{`{"start":1}`, `7`, `"1:2"`, `"x:1:int"`, `"0:0:float"`, `"0:1:double:x"`} {
		if _, err := ParseValueJSON(json.RawMessage(raw)); err == nil {
			t.Errorf("%s: no error", raw)
		}
	}
}
