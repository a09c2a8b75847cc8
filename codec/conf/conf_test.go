package conf

import (
	"strings"
	"testing"
)

type inner struct {
	Port int    `json:"port"`
	Host string `json:"host"`
}

type cfg struct {
	Broker  inner   `json:"broker"`
	Mapping []inner `json:"mapping"`
	Any     any     `json:"any"`
}

func TestDecodeTypeErrorPosition(t *testing.T) {
	src := "{\n  \"broker\": {\n    \"port\": \"x\"\n  }\n}"
	d, err := Parse("a.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var c cfg
	_, err = d.Decode(&c)
	if err == nil || !strings.Contains(err.Error(), "a.json:3:13: broker.port: wrong type") {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeArrayElementPath(t *testing.T) {
	src := `{"mapping":[{"port":1},{"port":true}]}`
	d, err := Parse("b.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var c cfg
	_, err = d.Decode(&c)
	if err == nil || !strings.Contains(err.Error(), "mapping[1].port") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownKeysAreWarnings(t *testing.T) {
	src := "{\"broker\":{\"host\":\"h\",\"prot\":1},\n \"any\":{\"free\":1},\n \"extra\":2}"
	d, err := Parse("c.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var c cfg
	warns, err := d.Decode(&c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range warns {
		e := w.(*Error)
		got[e.Path] = e.Pos
	}
	if len(got) != 2 || got["broker.prot"] != "c.json:1:23" || got["extra"] != "c.json:3:2" {
		t.Fatalf("warnings %v", got)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse("d.json", []byte("{\n\"a\": 1,\n}"))
	if err == nil || !strings.HasPrefix(err.Error(), "d.json:3:") {
		t.Fatalf("got %v", err)
	}
	_, err = Parse("e.json", []byte("{\"a\": [1, 2"))
	if err == nil || !strings.Contains(err.Error(), "e.json:1:") {
		t.Fatalf("got %v", err)
	}
}

func TestErrorfMissingKeyAtParent(t *testing.T) {
	d, err := Parse("f.json", []byte("{\n \"broker\": {}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	e := d.Errorf("broker.host", "required")
	if e.Error() != "f.json:2:12: broker.host: required" {
		t.Fatalf("got %q", e)
	}
}

func FuzzParseDecode(f *testing.F) {
	f.Add([]byte(`{"broker":{"port":1,"host":"x"},"mapping":[{"port":2}]}`))
	f.Add([]byte(`{"a":[1,{"b":null}],"c":"\u00e9"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse("fuzz.json", b)
		if err != nil {
			return
		}
		var c cfg
		_, _ = d.Decode(&c)
		_ = d.Pos("broker.port")
	})
}

func TestCommonKeysNotReported(t *testing.T) {
	d, err := Parse("g.json", []byte(`{"name":"x","logLevel":"INFO","reportStrategy":{"type":"ON_CHANGE"},"broker":{"name":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	var c cfg
	warns, err := d.Decode(&c)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || warns[0].(*Error).Path != "broker.name" {
		t.Fatalf("warnings %v", warns)
	}
}
