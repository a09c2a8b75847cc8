package httpout

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A downlink converter's result becomes the request: url, data (a string
// as it is, anything else as JSON) and an optional method.
func TestConvertedResult(t *testing.T) {
	for _, tc := range []struct{ in, method, url, body, err string }{
		{`{"url": "http://h/x", "data": "a=1"}`, "", "http://h/x", "a=1", ""},
		{`{"url": "x", "data": {"b": [1, 2]}}`, "", "x", `{"b": [1, 2]}`, ""},
		{`{"url": "x", "HTTPMethod": "put"}`, "PUT", "x", "", ""},
		{`{"url": "x", "httpMethod": "DELETE", "data": null}`, "DELETE", "x", "", ""},
		{`{"url": "x", "HTTPMethod": "BREW"}`, "", "", "", "unknown method"},
		{`{"data": "a"}`, "", "", "", "no url"},
		{`null`, "", "", "", "want an object"},
		{`["x"]`, "", "", "", "want an object"},
	} {
		m, u, b, err := converted(json.RawMessage(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || m != tc.method || u != tc.url || b != tc.body {
			t.Errorf("%s: %q %q %q %v", tc.in, m, u, b, err)
		}
	}
}

// An entry naming a converter class that nothing provides fails to
// compile, naming the key; upstream's default converter names are the
// templates.
func TestConverterClassNeedsHost(t *testing.T) {
	s := Spec{MethodFilter: ".*", Converter: "MyRequestDownlinkConverter"}
	_, err := Compile(&s, "methodFilter", Options{Converter: "request-downlink"})
	var e *Error
	if !errors.As(err, &e) || e.Key != "converter" || !strings.Contains(e.Msg, "python3") {
		t.Fatalf("missing class: %v", err)
	}
	s = Spec{MethodFilter: ".*", Extension: "MyRestDownlinkConverter"}
	if _, err := Compile(&s, "methodFilter", Options{Converter: "rest-downlink"}); !errors.As(err, &e) || e.Key != "extension" {
		t.Fatalf("missing REST class: %v", err)
	}
	s = Spec{MethodFilter: ".*", RequestURLExpression: "x", Converter: "JsonRequestDownlinkConverter"}
	if c, err := Compile(&s, "methodFilter", Options{Converter: "request-downlink"}); err != nil || c.Converted() {
		t.Fatalf("default converter: %v", err)
	}
	// With Warn, a class nothing provides is a warning and the templates
	// are used (and so required).
	var warned []string
	warn := Options{Converter: "request-downlink", Warn: func(key, msg string) { warned = append(warned, key+": "+msg) }}
	s = Spec{MethodFilter: ".*", RequestURLExpression: "x", Converter: "MyRequestDownlinkConverter"}
	if c, err := Compile(&s, "methodFilter", warn); err != nil || c.Converted() || len(warned) != 1 || !strings.Contains(warned[0], "converter: converter \"MyRequestDownlinkConverter\" is not compiled in") {
		t.Fatalf("warned: %v %v", warned, err)
	}
	s = Spec{MethodFilter: ".*", Converter: "MyRequestDownlinkConverter"}
	if _, err := Compile(&s, "methodFilter", warn); !errors.As(err, &e) || e.Key != "requestUrlExpression" {
		t.Fatalf("templates required: %v", err)
	}
	// Without a converter convention the key is not read.
	s = Spec{MethodFilter: ".*", RequestURLExpression: "x", Converter: "Whatever"}
	if c, err := Compile(&s, "methodFilter", Options{}); err != nil || c.Converted() {
		t.Fatalf("no convention: %v", err)
	}
}
