package request

import (
	"context"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// FuzzResponse converts arbitrary response bodies with the mappings of
// upstream's sample (JSON with unpacking, the byte-field converter):
// errors, never panics.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{`{"serial":"S","Developer":"A","hum":1}`, `[{"id":1,"type":"t"},{"id":[]}]`,
		`{"data":{"list":[1,2]}}`, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", `[`, ``} {
		f.Add(s)
	}
	b := sampleFor(f, "http://127.0.0.1:1")
	c, err := New(b, drivertest.Env(f, "Request", "request"))
	if err != nil {
		f.Fatal(err)
	}
	p := c.(*Connector).plan
	p.endpoints[2].subs = nil // no network from the fuzzer
	unpack := *p.endpoints[0]
	if err := compileUnpack(&unpack, "data.list"); err != nil {
		f.Fatal(err)
	}
	eps := append(p.endpoints, &unpack)
	f.Fuzz(func(t *testing.T, body string) {
		for _, e := range eps {
			payload := []byte(body)
			if !e.raw {
				var err error
				if payload, err = c.(*Connector).prepare(context.Background(), e, payload); err != nil {
					continue
				}
			}
			e.conv.Convert(e.url, payload, 1)
		}
	})
}

// FuzzProcessingFunction compiles arbitrary processing functions and runs
// the ones that compile on a fixed sub-response.
func FuzzProcessingFunction(f *testing.F) {
	f.Add(`def process_data(data, key): return {key: float(data["values"][0]["avg"])/1000.0}`)
	f.Add(`def f(d, k): return {k: d['a'] + 1}`)
	f.Add(`def f(d, k): return {k: d[0][`)
	f.Fuzz(func(t *testing.T, src string) {
		s, err := compileSubReq("k", subRequest{URL: "/x", ProcessingFunction: src})
		if err != nil {
			return
		}
		s.apply([]byte(`{"values":[{"avg":"1500"}],"a":1}`))
		s.apply([]byte(`not json`))
	})
}
