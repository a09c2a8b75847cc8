package convert

import (
	"encoding/json"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/value"
)

// nodeValue converts a JSON node to type t without going through an
// interface or an intermediate string where it can. ok is false for
// missing and null values. Values that cannot be converted are sent as
// their text, as upstream does.
func nodeValue(d *jpath.Doc, n jpath.Node, t value.Type) (any, bool) {
	k := d.Kind(n)
	if k == jpath.Invalid || k == jpath.Null {
		return nil, false
	}
	switch t {
	case value.Auto:
		return d.Value(n), true
	case value.JSON:
		if k == jpath.Object || k == jpath.Array {
			return json.RawMessage(d.AppendCompact(nil, n)), true
		}
		return d.Value(n), true
	case value.String:
		if k == jpath.String {
			return d.Str(n), true
		}
		return string(d.AppendText(nil, n)), true
	case value.Float:
		switch k {
		case jpath.Number:
			if f, ok := d.Float(n); ok {
				return f, true
			}
		case jpath.String:
			var scratch [64]byte
			if f, ok := value.ParseFloat(string(d.StrBytes(n, scratch[:0]))); ok {
				return f, true
			}
		case jpath.True:
			return 1.0, true
		case jpath.False:
			return 0.0, true
		}
	case value.Int:
		switch k {
		case jpath.Number:
			if i, ok := d.Int(n); ok {
				return i, true
			}
		case jpath.String:
			var scratch [64]byte
			if i, ok := value.ParseInt(string(d.StrBytes(n, scratch[:0]))); ok {
				return i, true
			}
		case jpath.True:
			return int64(1), true
		case jpath.False:
			return int64(0), true
		}
	case value.Bool:
		switch k {
		case jpath.True:
			return true, true
		case jpath.False:
			return false, true
		case jpath.String, jpath.Number:
			var scratch [64]byte
			b := d.StrBytes(n, scratch[:0])
			if k == jpath.Number {
				b = d.Raw(n)
			}
			if v, ok := value.ParseBool(string(b)); ok {
				return v, true
			}
		}
	}
	return string(d.AppendText(nil, n)), true
}

// textValue converts rendered template text to type t.
func textValue(b []byte, t value.Type) (any, bool) {
	switch t {
	case value.Int:
		if i, ok := value.ParseInt(string(b)); ok {
			return i, true
		}
	case value.Float:
		if f, ok := value.ParseFloat(string(b)); ok {
			return f, true
		}
	case value.Bool:
		if v, ok := value.ParseBool(string(b)); ok {
			return v, true
		}
	}
	return string(b), true
}
