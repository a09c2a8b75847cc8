package opcua

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/codec/value"
)

// toVariant casts a value from ThingsBoard (JSON-decoded: int64, float64,
// bool, string, []any, map[string]any) to a variant of the built-in type
// typ, an array when array is set. Strings are parsed for numeric, boolean
// and date types, so "90.25" written to a Double node is 90.25.
func toVariant(typ ua.TypeID, array bool, v any) (*ua.Variant, error) {
	if typ == ua.TypeIDVariant {
		// BaseDataType (i=24): any type will do; the value's own.
		return guessVariant(v)
	}
	if array {
		list, ok := v.([]any)
		if s, isStr := v.(string); !ok && isStr {
			list, ok = decodeJSONValue(json.RawMessage(s)).([]any)
		}
		if !ok {
			return nil, fmt.Errorf("want an array for this node, got %T", v)
		}
		return arrayVariant(typ, list)
	}
	x, err := castScalar(typ, v)
	if err != nil {
		return nil, err
	}
	return ua.NewVariant(x)
}

func arrayVariant(typ ua.TypeID, list []any) (*ua.Variant, error) {
	var out any
	conv := func(set func(i int, x any)) error {
		for i, e := range list {
			x, err := castScalar(typ, e)
			if err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
			set(i, x)
		}
		return nil
	}
	n := len(list)
	var err error
	switch typ {
	case ua.TypeIDBoolean:
		s := make([]bool, n)
		err, out = conv(func(i int, x any) { s[i] = x.(bool) }), s
	case ua.TypeIDSByte:
		s := make([]int8, n)
		err, out = conv(func(i int, x any) { s[i] = x.(int8) }), s
	case ua.TypeIDByte:
		s := make([]uint8, n)
		err, out = conv(func(i int, x any) { s[i] = x.(uint8) }), s
	case ua.TypeIDInt16:
		s := make([]int16, n)
		err, out = conv(func(i int, x any) { s[i] = x.(int16) }), s
	case ua.TypeIDUint16:
		s := make([]uint16, n)
		err, out = conv(func(i int, x any) { s[i] = x.(uint16) }), s
	case ua.TypeIDInt32:
		s := make([]int32, n)
		err, out = conv(func(i int, x any) { s[i] = x.(int32) }), s
	case ua.TypeIDUint32:
		s := make([]uint32, n)
		err, out = conv(func(i int, x any) { s[i] = x.(uint32) }), s
	case ua.TypeIDInt64:
		s := make([]int64, n)
		err, out = conv(func(i int, x any) { s[i] = x.(int64) }), s
	case ua.TypeIDUint64:
		s := make([]uint64, n)
		err, out = conv(func(i int, x any) { s[i] = x.(uint64) }), s
	case ua.TypeIDFloat:
		s := make([]float32, n)
		err, out = conv(func(i int, x any) { s[i] = x.(float32) }), s
	case ua.TypeIDDouble:
		s := make([]float64, n)
		err, out = conv(func(i int, x any) { s[i] = x.(float64) }), s
	case ua.TypeIDString:
		s := make([]string, n)
		err, out = conv(func(i int, x any) { s[i] = x.(string) }), s
	default:
		return nil, fmt.Errorf("arrays of %s are not supported", typ)
	}
	if err != nil {
		return nil, err
	}
	return ua.NewVariant(out)
}

// castScalar returns the Go value gopcua encodes as typ.
func castScalar(typ ua.TypeID, v any) (any, error) {
	switch typ {
	case ua.TypeIDBoolean:
		return toBool(v)
	case ua.TypeIDSByte:
		i, err := toInt(v, math.MinInt8, math.MaxInt8)
		return int8(i), err
	case ua.TypeIDByte:
		i, err := toInt(v, 0, math.MaxUint8)
		return uint8(i), err
	case ua.TypeIDInt16:
		i, err := toInt(v, math.MinInt16, math.MaxInt16)
		return int16(i), err
	case ua.TypeIDUint16:
		i, err := toInt(v, 0, math.MaxUint16)
		return uint16(i), err
	case ua.TypeIDInt32:
		i, err := toInt(v, math.MinInt32, math.MaxInt32)
		return int32(i), err
	case ua.TypeIDUint32:
		i, err := toInt(v, 0, math.MaxUint32)
		return uint32(i), err
	case ua.TypeIDInt64:
		return toInt(v, math.MinInt64, math.MaxInt64)
	case ua.TypeIDUint64:
		if s, ok := v.(string); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err == nil {
				return u, nil
			}
		}
		i, err := toInt(v, 0, math.MaxInt64)
		return uint64(i), err
	case ua.TypeIDFloat:
		f, err := toFloat(v)
		return float32(f), err
	case ua.TypeIDDouble:
		return toFloat(v)
	case ua.TypeIDString:
		return toText(v), nil
	case ua.TypeIDXMLElement:
		return ua.XMLElement(toText(v)), nil
	case ua.TypeIDLocalizedText:
		return ua.NewLocalizedText(toText(v)), nil
	case ua.TypeIDQualifiedName:
		seg := parseSegment(toText(v))
		return &ua.QualifiedName{NamespaceIndex: uint16(max(seg.ns, 0)), Name: seg.name}, nil
	case ua.TypeIDByteString:
		s := toText(v)
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
		return []byte(s), nil
	case ua.TypeIDGUID:
		s := toText(v)
		if len(strings.ReplaceAll(s, "-", "")) != 32 {
			return nil, fmt.Errorf("bad guid %q", s)
		}
		if _, err := hex.DecodeString(strings.ReplaceAll(s, "-", "")); err != nil {
			return nil, fmt.Errorf("bad guid %q", s)
		}
		return ua.NewGUID(s), nil
	case ua.TypeIDNodeID:
		return parseNodeID(toText(v))
	case ua.TypeIDExpandedNodeID:
		id, err := parseNodeID(toText(v))
		if err != nil {
			return nil, err
		}
		return ua.NewExpandedNodeID(id, "", 0), nil
	case ua.TypeIDDateTime:
		return toTime(v)
	case ua.TypeIDStatusCode:
		if s, ok := v.(string); ok {
			for code, d := range ua.StatusCodes {
				if d.Name == s {
					return code, nil
				}
			}
		}
		i, err := toInt(v, 0, math.MaxUint32)
		return ua.StatusCode(i), err
	}
	return nil, fmt.Errorf("writing %s values is not supported", typ)
}

// guessVariant picks a type for a value when the target's type is unknown.
func guessVariant(v any) (*ua.Variant, error) {
	switch x := v.(type) {
	case bool, string, float64:
		return ua.NewVariant(x)
	case int64:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return ua.NewVariant(int32(x))
		}
		return ua.NewVariant(x)
	case nil:
		return &ua.Variant{}, nil
	}
	return ua.NewVariant(toText(v))
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		if b, ok := value.ParseBool(x); ok {
			return b, nil
		}
		return false, fmt.Errorf("cannot read %q as a boolean", x)
	}
	return false, fmt.Errorf("cannot write %T to a boolean node", v)
}

func toInt(v any, lo, hi int64) (int64, error) {
	var i int64
	switch x := v.(type) {
	case int64:
		i = x
	case float64:
		if math.IsNaN(x) || x < float64(lo) || x > float64(hi) {
			return 0, fmt.Errorf("%v is out of range [%d, %d]", x, lo, hi)
		}
		i = int64(x)
	case bool:
		if x {
			i = 1
		}
	case string:
		n, ok := value.ParseInt(x)
		if !ok {
			return 0, fmt.Errorf("cannot read %q as an integer", x)
		}
		i = n
	default:
		return 0, fmt.Errorf("cannot write %T to an integer node", v)
	}
	if i < lo || i > hi {
		return 0, fmt.Errorf("%d is out of range [%d, %d]", i, lo, hi)
	}
	return i, nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		f, ok := value.ParseFloat(x)
		if !ok {
			return 0, fmt.Errorf("cannot read %q as a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("cannot write %T to a numeric node", v)
}

func toText(v any) string {
	switch v.(type) {
	case string, int64, float64, bool, nil:
		return value.Text(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case float64:
		return time.UnixMilli(int64(x)).UTC(), nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, strings.TrimSpace(x)); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("cannot read %q as a date-time", x)
	}
	return time.Time{}, fmt.Errorf("cannot write %T to a date-time node", v)
}

// guessCast turns a string from a reserved "set" into the value it looks
// like (true/false, integer, float), as upstream does before writing.
func guessCast(s string) any {
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	if strings.Contains(s, ".") {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	return s
}
