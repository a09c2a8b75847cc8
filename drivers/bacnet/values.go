package bacnet

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec/bacnet"
)

// datapoint converts a property value to a datapoint value: Real and
// Double rounded to 2 decimals (as upstream), integers, enumerations and
// booleans as numbers and booleans, strings as strings, a list as a JSON
// array, statusFlags as an object of its four flags. ok is false for a
// Null, which has no datapoint.
func datapoint(prop bacnet.PropertyID, vs []bacnet.Value) (any, bool) {
	if len(vs) == 1 {
		if prop == bacnet.PropStatusFlags {
			if bs, isBits := vs[0].(bacnet.BitString); isBits {
				return statusFlags(bs), true
			}
		}
		return scalar(vs[0])
	}
	arr := make([]any, len(vs))
	for i, v := range vs {
		arr[i] = jsonValue(v)
	}
	b, err := json.Marshal(arr)
	if err != nil {
		return nil, false
	}
	return json.RawMessage(b), true
}

func statusFlags(bs bacnet.BitString) json.RawMessage {
	b, _ := json.Marshal(map[string]bool{
		"inAlarm": bs.Bit(0), "fault": bs.Bit(1), "overridden": bs.Bit(2), "outOfService": bs.Bit(3)})
	return b
}

func round2(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	return math.Round(f*100) / 100
}

// scalar converts one element for a datapoint.
func scalar(v bacnet.Value) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case float32:
		// Through the shortest decimal form, so 21.3f is 21.3, not
		// 21.299999237060547.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64), true
		}
		return round2(f), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64), true
		}
		return round2(x), true
	case uint64:
		if x > math.MaxInt64 {
			return strconv.FormatUint(x, 10), true
		}
		return int64(x), true
	case int64:
		return x, true
	case bool:
		return x, true
	case bacnet.Enumerated:
		return int64(x), true
	case string:
		return x, true
	}
	j := jsonValue(v)
	switch j := j.(type) {
	case string:
		return j, true
	case map[string]any, []any:
		b, err := json.Marshal(j)
		if err != nil {
			return nil, false
		}
		return json.RawMessage(b), true
	}
	return fmt.Sprint(j), true
}

// jsonValue converts an element for use inside a JSON array or object.
func jsonValue(v bacnet.Value) any {
	switch x := v.(type) {
	case nil:
		return nil
	case float32, float64, uint64, int64, bool, bacnet.Enumerated, string:
		s, _ := scalar(x)
		if f, ok := s.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return s
	case []byte:
		return hex.EncodeToString(x)
	case bacnet.BitString:
		out := make([]bool, x.Len)
		for i := range out {
			out[i] = x.Bit(i)
		}
		return out
	case bacnet.Date:
		return x.String()
	case bacnet.Time:
		return x.String()
	case bacnet.ObjectID:
		return x.String()
	case bacnet.Context:
		return map[string]any{strconv.Itoa(int(x.Tag)): hex.EncodeToString(x.Data)}
	case bacnet.Constructed:
		inner := make([]any, len(x.Values))
		for i, e := range x.Values {
			inner[i] = jsonValue(e)
		}
		var val any = inner
		if len(inner) == 1 {
			val = inner[0]
		}
		return map[string]any{strconv.Itoa(int(x.Tag)): val}
	}
	return fmt.Sprint(v)
}

// text formats a value for a key placeholder or an RPC answer.
func text(vs []bacnet.Value) string {
	if len(vs) == 1 {
		if s, ok := scalar(vs[0]); ok {
			switch s := s.(type) {
			case string:
				return s
			case json.RawMessage:
				return string(s)
			}
			return fmt.Sprint(s)
		}
		return "null"
	}
	d, ok := datapoint(0, vs)
	if !ok {
		return "null"
	}
	if r, isRaw := d.(json.RawMessage); isRaw {
		return string(r)
	}
	return fmt.Sprint(d)
}

// writeValue converts a value from ThingsBoard (attribute update or RPC)
// to the application value to write to prop of obj. The tag comes from
// the property's type where it is known; otherwise from like (the value
// the property holds now, read first), otherwise from the JSON type.
func writeValue(obj bacnet.ObjectID, prop bacnet.PropertyID, v any, like bacnet.Value) (bacnet.Value, error) {
	if v == nil {
		return nil, nil // Null: relinquish the priority slot
	}
	if s, ok := v.(string); ok && strings.EqualFold(strings.TrimSpace(s), "null") {
		return nil, nil
	}
	kind := propertyKind(obj.Type, prop)
	if kind < 0 && like != nil {
		kind = kindOf(like)
	}
	switch kind {
	case bacnet.TagReal:
		f, err := toFloat(v)
		return float32(f), err
	case bacnet.TagDouble:
		return toFloat(v)
	case bacnet.TagUnsigned:
		f, err := toFloat(v)
		if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxUint32 {
			return nil, fmt.Errorf("want a non-negative integer, got %v", v)
		}
		return uint64(f), nil
	case bacnet.TagSigned:
		f, err := toFloat(v)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return nil, fmt.Errorf("want an integer, got %v", v)
		}
		return int64(f), nil
	case bacnet.TagEnumerated:
		if bin := binaryValue(v); bin >= 0 {
			return bacnet.Enumerated(bin), nil
		}
		f, err := toFloat(v)
		if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxUint32 {
			return nil, fmt.Errorf("want an enumeration value, got %v", v)
		}
		return bacnet.Enumerated(f), nil
	case bacnet.TagBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case float64:
			return x != 0, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("want a boolean, got %q", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("want a boolean, got %v", v)
	case bacnet.TagCharacterString:
		switch x := v.(type) {
		case string:
			return x, nil
		default:
			return fmt.Sprint(x), nil
		}
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case float64:
		return float32(x), nil
	case int, int64, float32, json.Number:
		f, err := toFloat(x)
		return float32(f), err
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return float32(f), nil
		}
		return x, nil
	}
	return nil, fmt.Errorf("cannot write a %T", v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("want a number, got %q", x)
		}
		return f, nil
	case json.Number:
		return x.Float64()
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float32:
		return float64(x), nil
	}
	return 0, fmt.Errorf("want a number, got %v", v)
}

// binaryValue maps active/inactive, on/off, true/false, 1/0 to a
// BACnetBinaryPV; -1 when v is none of them.
func binaryValue(v any) int {
	if f, err := toFloat(v); err == nil {
		if _, isString := v.(string); !isString {
			v = f
		}
	}
	switch x := v.(type) {
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "active", "on", "true", "1":
			return 1
		case "inactive", "off", "false", "0":
			return 0
		}
	case float64:
		if x == 0 || x == 1 {
			return int(x)
		}
	}
	return -1
}

func kindOf(v bacnet.Value) int {
	switch v.(type) {
	case float32:
		return bacnet.TagReal
	case float64:
		return bacnet.TagDouble
	case uint64:
		return bacnet.TagUnsigned
	case int64:
		return bacnet.TagSigned
	case bacnet.Enumerated:
		return bacnet.TagEnumerated
	case bool:
		return bacnet.TagBoolean
	case string:
		return bacnet.TagCharacterString
	}
	return -1
}

// propertyKind is the application tag of well-known properties; -1 when
// it depends on more than the object type.
func propertyKind(t bacnet.ObjectType, p bacnet.PropertyID) int {
	switch p {
	case bacnet.PropPresentValue, 104 /* relinquishDefault */ :
		switch t {
		case bacnet.AnalogInput, bacnet.AnalogOutput, bacnet.AnalogValue, 23 /* accumulator */ :
			return bacnet.TagReal
		case bacnet.BinaryInput, bacnet.BinaryOutput, bacnet.BinaryValue, 55 /* binaryLightingOutput */ :
			return bacnet.TagEnumerated
		case bacnet.MultiStateInput, bacnet.MultiStateOutput, bacnet.MultiStateValue, 48 /* positiveIntegerValue */ :
			return bacnet.TagUnsigned
		case 45: // integerValue
			return bacnet.TagSigned
		case 46: // largeAnalogValue
			return bacnet.TagDouble
		case 40: // characterstringValue
			return bacnet.TagCharacterString
		}
	case bacnet.PropObjectName, bacnet.PropDescription, 58 /* location */, 4, 46 /* active/inactiveText */ :
		return bacnet.TagCharacterString
	case 81: // outOfService
		return bacnet.TagBoolean
	case 22, 25, 45, 59, 106: // covIncrement, deadband, highLimit, lowLimit, resolution
		return bacnet.TagReal
	case 84: // polarity
		return bacnet.TagEnumerated
	case 17, 113, 66, 67, 74: // notificationClass, timeDelay, minimumOff/OnTime, numberOfStates
		return bacnet.TagUnsigned
	}
	return -1
}
