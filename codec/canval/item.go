package canval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/field"
)

// Value is a value spec: a field plus upstream's fixed width of the float
// types (4 for "float", 8 for "double", 0 for the other types).
type Value struct {
	field.Field
	Width int
}

// ParseValue parses "start:length[:order]:type[:signed|encoding]".
func ParseValue(spec string) (Value, error) {
	parts := strings.Split(spec, ":")
	width := 0
	for i, p := range parts {
		if i < 2 {
			continue
		}
		switch strings.ToLower(p) {
		case "float":
			width = 4
		case "double":
			width = 8
		}
	}
	if width != 0 {
		// codec/field checks float lengths against 2/4/8; upstream reads
		// the type's width from start whatever the length says.
		f, err := field.Parse(strings.Join(withLength(parts, "-1"), ":"))
		if err != nil {
			return Value{}, err
		}
		if len(parts) > 1 {
			n, ok := leadingInt(parts[1])
			if !ok || n < -1 || n == 0 || n > 99 {
				return Value{}, fmt.Errorf("value %q: bad length", spec)
			}
			f.Length = n
		}
		return Value{Field: f, Width: width}, nil
	}
	f, err := field.Parse(spec)
	if err != nil {
		return Value{}, err
	}
	return Value{Field: f}, nil
}

// leadingInt reads the integer at the start of s as fmt.Sscanf(s, "%d")
// does: spaces other than a newline skipped, an optional sign, decimal
// digits, anything after them ignored. Values beyond ±1000 come back as
// ±1001 (callers only accept small lengths).
func leadingInt(s string) (int, bool) {
	s = strings.TrimLeftFunc(s, func(r rune) bool { return r != '\n' && unicode.IsSpace(r) })
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n, digits := 0, 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		if n <= 1000 {
			n = n*10 + int(s[digits]-'0')
		}
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	n = min(n, 1001)
	if neg {
		n = -n
	}
	return n, true
}

func withLength(parts []string, n string) []string {
	out := append([]string(nil), parts...)
	if len(out) > 1 {
		out[1] = n
	}
	return out
}

// ValueConfig is the object form of a value spec.
type ValueConfig struct {
	Start     *int   `json:"start"`
	Length    *int   `json:"length"`
	Byteorder string `json:"byteorder"`
	Type      string `json:"type"`
	Signed    bool   `json:"signed"`
	Encoding  string `json:"encoding"`
}

// Spec returns the string form of c.
func (c ValueConfig) Spec() (string, error) {
	if c.Start == nil || c.Length == nil || c.Type == "" {
		return "", errors.New("value object needs start, length and type")
	}
	s := fmt.Sprintf("%d:%d", *c.Start, *c.Length)
	if c.Byteorder != "" {
		s += ":" + c.Byteorder
	}
	s += ":" + c.Type
	t, _ := field.ParseType(c.Type)
	switch {
	case t == field.Int && c.Signed:
		s += ":signed"
	case (t == field.String || t == field.Raw) && c.Encoding != "":
		s += ":" + c.Encoding
	}
	return s, nil
}

// ParseValueJSON accepts a value spec as a string or as an object.
func ParseValueJSON(raw json.RawMessage) (Value, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return ParseValue(s)
	}
	var c ValueConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return Value{}, errors.New("want a value spec string or an object with start, length, type")
	}
	spec, err := c.Spec()
	if err != nil {
		return Value{}, err
	}
	return ParseValue(spec)
}

// Decode reads the value from payload.
func (v Value) Decode(payload []byte) (any, error) {
	if v.Width == 0 {
		return v.Field.Decode(payload)
	}
	if v.Start >= len(payload) {
		return nil, fmt.Errorf("value at byte %d: payload has %d bytes", v.Start, len(payload))
	}
	end := len(payload)
	if v.Length != -1 {
		end = min(v.Start+v.Length, len(payload))
	}
	b := payload[v.Start:end]
	if len(b) < v.Width {
		return nil, fmt.Errorf("%d-byte float at byte %d: only %d bytes", v.Width, v.Start, len(b))
	}
	var u uint64
	for i := 0; i < v.Width; i++ {
		c := b[i]
		if v.Little {
			c = b[v.Width-1-i]
		}
		u = u<<8 | uint64(c)
	}
	if v.Width == 4 {
		return float64(math.Float32frombits(uint32(u))), nil
	}
	return math.Float64frombits(u), nil
}

// Item is one configured key read from frames of one identifier.
type Item struct {
	Key   string
	Value Value
	// Command, when set, must match the payload for the item to apply.
	Command *field.Command
	// Expr, when set, computes the reported value from "value" and
	// "can_data".
	Expr *expr.Program
}

// CompileExpr compiles an uplink expression; strict disables function
// calls (upstream "strictEval": no Python builtins).
func CompileExpr(src string, strict bool) (*expr.Program, error) {
	return expr.CompileWith(src, expr.Options{Vars: []string{"value", "can_data"}, NoFuncs: strict})
}

// Matches reports whether the item applies to payload.
func (it *Item) Matches(payload []byte) bool {
	return it.Command == nil || it.Command.Match(payload)
}

// Decode returns the item's value from payload: int64, float64, bool or
// string, or json.RawMessage for a list computed by the expression.
func (it *Item) Decode(payload []byte) (any, error) {
	v, err := it.Value.Decode(payload)
	if err != nil {
		return nil, err
	}
	if it.Expr == nil {
		return v, nil
	}
	in, err := expr.ValueOf(v)
	if err != nil {
		return nil, err
	}
	out, err := it.Expr.Run(in, expr.Bytes(payload))
	if err != nil {
		return nil, err
	}
	return PointValue(out.Go())
}

// PointValue turns an expression result into a datapoint value.
func PointValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, errors.New("expression gave None")
	case bool, int64, string:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("expression gave %v", x)
		}
		return x, nil
	case []byte:
		return fmt.Sprintf("%x", x), nil
	case []any:
		for i, e := range x {
			if b, ok := e.([]byte); ok {
				x[i] = fmt.Sprintf("%x", b)
			}
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return json.RawMessage(b), nil
	}
	return nil, fmt.Errorf("expression gave %T", v)
}
