package rest

import (
	"encoding/json"
	"testing"

	"github.com/tbgw/tbgw/codec/convert"
)

// FuzzRequestBody feeds arbitrary bodies and content types to the request
// parsing and the sample's JSON converter: every outcome is an error or
// JSON objects, never a panic.
func FuzzRequestBody(f *testing.F) {
	for _, s := range [][3]string{
		{"POST", "application/json", `{"sensorName":"a","temp":1}`},
		{"POST", "application/json", `[{"sensorName":"a"},2,{"x":[1,{}]}]`},
		{"POST", "application/x-www-form-urlencoded", `a=1&b=%zz`},
		{"POST", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--X--\r\n"},
		{"POST", "text/plain", "\xff\xfe\x00"},
		{"GET", "", ""},
		{"POST", "application/json", `"just a string"`},
	} {
		f.Add(s[0], s[1], s[2])
	}
	cfg := convert.Config{Type: "json",
		DeviceInfo: &convert.DeviceInfo{DeviceNameExpressionSource: "request", DeviceNameExpression: "${sensorName}"},
		Timeseries: convert.Datapoints{List: []convert.Datapoint{{Type: "double", Key: "t", Value: "${temp}"}, {Type: "string", Key: "x", Value: "${text}"}}},
	}
	conv, err := convert.NewJSON(&cfg, convert.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, ctype, body string) {
		objs, err := requestObjects(method, ctype, []byte(body), map[string]string{"p": "v"}, map[string]string{"q": "w"})
		if err != nil {
			return
		}
		for _, o := range objs {
			var m map[string]any
			if err := json.Unmarshal(o, &m); err != nil {
				t.Fatalf("not a JSON object: %q: %v", o, err)
			}
			if m["q"] != "w" || m["p"] == nil {
				t.Fatalf("query or path parameter lost: %s", o)
			}
			conv.Convert("/x", o, 1)
		}
	})
}
