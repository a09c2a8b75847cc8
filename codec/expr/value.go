package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec/value"
)

// Kind is the type of a Value.
type Kind uint8

// Value kinds.
const (
	NoneKind Kind = iota
	BoolKind
	IntKind
	FloatKind
	StrKind
	BytesKind
	ListKind

	minIntLit // the literal 9223372036854775808, valid only after unary minus
)

func (k Kind) String() string {
	return [...]string{"None", "bool", "int", "float", "str", "bytes", "list", "int"}[k]
}

// Value is an expression value: None, bool, int (int64), float (float64),
// str, bytes or list. The zero Value is None.
type Value struct {
	k    Kind
	num  uint64 // bool 0/1, int64 bits, float64 bits
	s    string // str, bytes
	list []Value
}

// Constructors.
func Int(i int64) Value     { return Value{k: IntKind, num: uint64(i)} }
func Float(f float64) Value { return Value{k: FloatKind, num: math.Float64bits(f)} }
func Str(s string) Value    { return Value{k: StrKind, s: s} }
func Bytes(b []byte) Value  { return Value{k: BytesKind, s: string(b)} }
func List(l []Value) Value  { return Value{k: ListKind, list: l} }

// Bool returns a bool Value.
func Bool(b bool) Value {
	if b {
		return Value{k: BoolKind, num: 1}
	}
	return Value{k: BoolKind}
}

// Kind returns v's type.
func (v Value) Kind() Kind { return v.k }

func (v Value) int() int64     { return int64(v.num) }
func (v Value) float() float64 { return math.Float64frombits(v.num) }

// isInt reports whether v is an int or a bool (Python bools are ints).
func (v Value) isInt() bool { return v.k == IntKind || v.k == BoolKind }

func (v Value) isNum() bool { return v.k == IntKind || v.k == BoolKind || v.k == FloatKind }

// toFloat converts a number to float64.
func (v Value) toFloat() float64 {
	if v.k == FloatKind {
		return v.float()
	}
	return float64(int64(v.num))
}

// Truth is Python truthiness.
func (v Value) Truth() bool {
	switch v.k {
	case BoolKind, IntKind:
		return v.num != 0
	case FloatKind:
		return v.float() != 0
	case StrKind, BytesKind:
		return v.s != ""
	case ListKind:
		return len(v.list) > 0
	}
	return false
}

// ValueOf converts a Go value: nil, bool, integer and float types, string,
// []byte, json.RawMessage (decoded), []any and Value.
func ValueOf(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Value{}, nil
	case Value:
		return t, nil
	case bool:
		return Bool(t), nil
	case int:
		return Int(int64(t)), nil
	case int8:
		return Int(int64(t)), nil
	case int16:
		return Int(int64(t)), nil
	case int32:
		return Int(int64(t)), nil
	case int64:
		return Int(t), nil
	case uint8:
		return Int(int64(t)), nil
	case uint16:
		return Int(int64(t)), nil
	case uint32:
		return Int(int64(t)), nil
	case uint:
		if uint64(t) > math.MaxInt64 {
			return Float(float64(t)), nil
		}
		return Int(int64(t)), nil
	case uint64:
		if t > math.MaxInt64 {
			return Float(float64(t)), nil
		}
		return Int(int64(t)), nil
	case float32:
		return Float(float64(t)), nil
	case float64:
		return Float(t), nil
	case string:
		return Str(t), nil
	case []byte:
		return Bytes(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return Int(i), nil
		}
		f, err := t.Float64()
		return Float(f), err
	case json.RawMessage:
		var a any
		dec := json.NewDecoder(strings.NewReader(string(t)))
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			return Value{}, err
		}
		return ValueOf(a)
	case map[string]any:
		return Value{}, fmt.Errorf("objects are not supported as expression values")
	case []any:
		l := make([]Value, len(t))
		for i, e := range t {
			v, err := ValueOf(e)
			if err != nil {
				return Value{}, err
			}
			l[i] = v
		}
		return List(l), nil
	}
	return Value{}, fmt.Errorf("unsupported value type %T", x)
}

// Go converts v to a Go value: nil, bool, int64, float64, string, []byte
// or []any.
func (v Value) Go() any {
	switch v.k {
	case BoolKind:
		return v.num != 0
	case IntKind:
		return v.int()
	case FloatKind:
		return v.float()
	case StrKind:
		return v.s
	case BytesKind:
		return []byte(v.s)
	case ListKind:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			out[i] = e.Go()
		}
		return out
	}
	return nil
}

// String is Python's str(v).
func (v Value) String() string {
	switch v.k {
	case NoneKind:
		return "None"
	case BoolKind:
		if v.num != 0 {
			return "True"
		}
		return "False"
	case IntKind:
		return strconv.FormatInt(v.int(), 10)
	case FloatKind:
		return string(value.AppendFloat(nil, v.float()))
	case StrKind:
		return v.s
	case BytesKind:
		return fmt.Sprintf("b%q", v.s)
	case ListKind:
		var b strings.Builder
		b.WriteByte('[')
		for i, e := range v.list {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.repr())
		}
		b.WriteByte(']')
		return b.String()
	}
	return "?"
}

func (v Value) repr() string {
	if v.k == StrKind {
		return "'" + strings.ReplaceAll(v.s, "'", `\'`) + "'"
	}
	return v.String()
}

// equal is Python ==.
func equal(a, b Value) bool {
	if a.isNum() && b.isNum() {
		if a.isInt() && b.isInt() {
			return a.int() == b.int()
		}
		return a.toFloat() == b.toFloat()
	}
	if a.k != b.k {
		return false
	}
	switch a.k {
	case NoneKind:
		return true
	case StrKind, BytesKind:
		return a.s == b.s
	case ListKind:
		if len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !equal(a.list[i], b.list[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// compare orders a and b: numbers with numbers, strings with strings,
// lists element-wise.
func compare(a, b Value) (int, error) {
	switch {
	case a.isNum() && b.isNum():
		if a.isInt() && b.isInt() {
			return cmp3(a.int(), b.int()), nil
		}
		x, y := a.toFloat(), b.toFloat()
		if x != x || y != y {
			return 2, nil // NaN: every comparison false
		}
		return cmp3(x, y), nil
	case a.k == b.k && (a.k == StrKind || a.k == BytesKind):
		return strings.Compare(a.s, b.s), nil
	case a.k == ListKind && b.k == ListKind:
		for i := 0; i < len(a.list) && i < len(b.list); i++ {
			if !equal(a.list[i], b.list[i]) {
				return compare(a.list[i], b.list[i])
			}
		}
		return cmp3(len(a.list), len(b.list)), nil
	}
	return 0, fmt.Errorf("cannot compare %s and %s", a.k, b.k)
}

func cmp3[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
