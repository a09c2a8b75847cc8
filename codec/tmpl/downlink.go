package tmpl

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec/jpath"
)

// Vars are the values of downlink placeholders: attribute updates, RPC
// requests and attribute-request answers sent to a device.
//
//	${deviceName}      Device
//	${attributeKey}    Key
//	${attributeValue}  Value, formatted by FormatValue
//	${methodName}      Method
//	${requestId}       RequestID
//	${restId}          RequestID (REST connector spelling)
//	${params}          Params (the RPC params as received, JSON)
//	${params.<path>}   a JSONPath into Params
//
// Any other placeholder, and ${params...} that does not resolve, is left in
// the output as written. Vars caches the parsed Params; it is not safe for
// concurrent use.
type Vars struct {
	Device    string
	Key       string
	Value     any
	Method    string
	RequestID string
	Params    json.RawMessage

	doc    *jpath.Doc
	docErr bool
}

// Topic renders t for use in a topic, URL or other plain-text place:
// params values are written in text form (strings without quotes).
func (t *Template) Topic(v *Vars) string { return t.downlink(v, false) }

// Payload renders t as a message body: ${params} and ${params.x} are
// JSON-encoded (strings quoted), as upstream's MQTT RPC does.
func (t *Template) Payload(v *Vars) string { return t.downlink(v, true) }

func (t *Template) downlink(v *Vars, jsonParams bool) string {
	s, _ := t.Render(MissingKeep, func(dst []byte, expr string) ([]byte, bool) {
		switch expr {
		case "deviceName":
			return append(dst, v.Device...), true
		case "attributeKey":
			return append(dst, v.Key...), true
		case "attributeValue":
			return AppendValue(dst, v.Value), true
		case "methodName":
			return append(dst, v.Method...), true
		case "requestId", "restId":
			return append(dst, v.RequestID...), true
		}
		if expr != "params" && !strings.HasPrefix(expr, "params.") && !strings.HasPrefix(expr, "params[") {
			return dst, false
		}
		d := v.params()
		if d == nil {
			return dst, false
		}
		n := d.Root()
		if expr != "params" {
			p, err := jpath.Compile(expr[len("params"):])
			if err != nil {
				return dst, false
			}
			if n = p.Eval(d, n); n == jpath.NoNode {
				return dst, false
			}
		}
		if jsonParams {
			return d.AppendCompact(dst, n), true
		}
		if d.Kind(n) == jpath.Null {
			return append(dst, "None"...), true
		}
		return d.AppendText(dst, n), true
	})
	return s
}

func (v *Vars) params() *jpath.Doc {
	if v.doc != nil || v.docErr {
		return v.doc
	}
	src := v.Params
	if len(src) == 0 {
		src = json.RawMessage("null")
	}
	d, err := jpath.Parse(src)
	if err != nil {
		v.docErr = true
		return nil
	}
	v.doc = d
	return d
}

// FormatValue formats an attribute value the way upstream writes
// ${attributeValue}: objects and arrays as JSON, booleans true/false,
// nil as null, numbers as JSON numbers, strings as they are.
func FormatValue(v any) string { return string(AppendValue(nil, v)) }

// AppendValue appends FormatValue(v) to dst.
func AppendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return append(dst, x...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case float64:
		return appendJSONFloat(dst, x)
	case float32:
		return appendJSONFloat(dst, float64(x))
	case json.Number:
		return append(dst, x...)
	case json.RawMessage:
		if len(x) == 0 {
			return append(dst, "null"...)
		}
		// A JSON string is written without its quotes, like str().
		if x[0] == '"' {
			var s string
			if json.Unmarshal(x, &s) == nil {
				return append(dst, s...)
			}
		}
		return append(dst, x...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// appendJSONFloat formats like encoding/json: plain decimal unless the
// magnitude is below 1e-6 or at least 1e21.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
