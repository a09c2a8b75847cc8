package tbjson

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
)

// Marshal renders v as JSON the way upstream's json.dumps would: floats
// always read as floats (25.0, not 25), so ThingsBoard keeps a double a
// double in RPC replies too; NaN and infinities become null instead of
// failing the whole reply. Maps, slices and arrays are walked; structs and
// types with their own JSON or text encoding are rendered by encoding/json.
// Map keys are sorted, as encoding/json does.
func Marshal(v any) ([]byte, error) {
	return appendAny(nil, v)
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func appendAny(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil, int64, float64, bool, string, json.RawMessage, int, uint64, float32:
		return AppendValue(dst, x), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendAny(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendAny(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	}
	return appendReflect(dst, reflect.ValueOf(v))
}

func appendReflect(dst []byte, rv reflect.Value) ([]byte, error) {
	t := rv.Type()
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return appendJSON(dst, rv.Interface())
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return AppendFloat(dst, rv.Float()), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendAny(dst, rv.Elem().Interface())
	case reflect.Slice:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return appendJSON(dst, rv.Interface()) // base64, as encoding/json
		}
		fallthrough
	case reflect.Array:
		dst = append(dst, '[')
		for i := range rv.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendAny(dst, rv.Index(i).Interface()); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return appendJSON(dst, rv.Interface())
		}
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return appendAny(dst, m)
	}
	return appendJSON(dst, rv.Interface())
}

func appendJSON(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}
