package expr

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// MaxLen bounds the length of strings and lists an expression builds, so
// that 'a' * 10**9 fails instead of exhausting memory.
const MaxLen = 1 << 20

var (
	errZeroDiv  = errors.New("division by zero")
	errOverflow = errors.New("integer overflow")
	errTooLong  = fmt.Errorf("result longer than %d", MaxLen)
)

// arith applies a binary arithmetic or bitwise operator with Python
// semantics on int64/float64 (integer overflow is an error, not a big
// integer).
func arith(op string, x, y Value) (Value, error) {
	if x.isInt() && y.isInt() {
		if x.k == BoolKind && y.k == BoolKind && (op == "&" || op == "|" || op == "^") {
			v, err := intArith(op, x.int(), y.int())
			return Bool(v.int() != 0), err
		}
		return intArith(op, x.int(), y.int())
	}
	if x.isNum() && y.isNum() {
		return floatArith(op, x.toFloat(), y.toFloat())
	}
	switch op {
	case "+":
		if x.k == y.k && (x.k == StrKind || x.k == BytesKind) {
			if len(x.s)+len(y.s) > MaxLen {
				return Value{}, errTooLong
			}
			return Value{k: x.k, s: x.s + y.s}, nil
		}
		if x.k == ListKind && y.k == ListKind {
			if len(x.list)+len(y.list) > MaxLen {
				return Value{}, errTooLong
			}
			l := make([]Value, 0, len(x.list)+len(y.list))
			return List(append(append(l, x.list...), y.list...)), nil
		}
	case "*":
		if y.k == StrKind || y.k == BytesKind || y.k == ListKind {
			x, y = y, x
		}
		if y.isInt() {
			n := max(y.int(), 0)
			switch x.k {
			case StrKind, BytesKind:
				if n > 0 && int64(len(x.s)) > MaxLen/n {
					return Value{}, errTooLong
				}
				return Value{k: x.k, s: strings.Repeat(x.s, int(n))}, nil
			case ListKind:
				if n > 0 && int64(len(x.list)) > MaxLen/n {
					return Value{}, errTooLong
				}
				l := make([]Value, 0, int(n)*len(x.list))
				for i := int64(0); i < n; i++ {
					l = append(l, x.list...)
				}
				return List(l), nil
			}
		}
	case "%":
		if x.k == StrKind {
			return percentFormat(x.s, y)
		}
	}
	return Value{}, fmt.Errorf("unsupported operand types for %s: %s and %s", op, x.k, y.k)
}

func intArith(op string, a, b int64) (Value, error) {
	switch op {
	case "+":
		s := a + b
		if (s > a) != (b > 0) {
			return Value{}, errOverflow
		}
		return Int(s), nil
	case "-":
		d := a - b
		if (d < a) != (b > 0) {
			return Value{}, errOverflow
		}
		return Int(d), nil
	case "*":
		if a == 0 || b == 0 {
			return Int(0), nil
		}
		p := a * b
		if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
			return Value{}, errOverflow
		}
		return Int(p), nil
	case "/":
		if b == 0 {
			return Value{}, errZeroDiv
		}
		return Float(float64(a) / float64(b)), nil
	case "//":
		if b == 0 {
			return Value{}, errZeroDiv
		}
		if a == math.MinInt64 && b == -1 {
			return Value{}, errOverflow
		}
		q := a / b
		if (a%b != 0) && ((a < 0) != (b < 0)) {
			q--
		}
		return Int(q), nil
	case "%":
		if b == 0 {
			return Value{}, errZeroDiv
		}
		if b == -1 {
			return Int(0), nil
		}
		m := a % b
		if m != 0 && ((m < 0) != (b < 0)) {
			m += b
		}
		return Int(m), nil
	case "**":
		if b < 0 {
			return Float(math.Pow(float64(a), float64(b))), nil
		}
		r := int64(1)
		base := a
		for e := b; e > 0; e >>= 1 {
			if e&1 == 1 {
				hi, lo := bits.Mul64(uint64(abs64(r)), uint64(abs64(base)))
				if hi != 0 || lo > math.MaxInt64 {
					return Value{}, errOverflow
				}
				neg := (r < 0) != (base < 0)
				r = int64(lo)
				if neg {
					r = -r
				}
			}
			if e > 1 {
				hi, lo := bits.Mul64(uint64(abs64(base)), uint64(abs64(base)))
				if hi != 0 || lo > math.MaxInt64 {
					return Value{}, errOverflow
				}
				base = int64(lo)
			}
		}
		return Int(r), nil
	case "&":
		return Int(a & b), nil
	case "|":
		return Int(a | b), nil
	case "^":
		return Int(a ^ b), nil
	case "<<":
		if b < 0 {
			return Value{}, errors.New("negative shift count")
		}
		if b >= 63 || (a != 0 && bits.Len64(uint64(abs64(a)))+int(b) > 63) {
			if a == 0 {
				return Int(0), nil
			}
			return Value{}, errOverflow
		}
		return Int(a << uint(b)), nil
	case ">>":
		if b < 0 {
			return Value{}, errors.New("negative shift count")
		}
		if b > 63 {
			b = 63
		}
		return Int(a >> uint(b)), nil
	}
	return Value{}, fmt.Errorf("bad operator %s", op)
}

func abs64(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

func floatArith(op string, a, b float64) (Value, error) {
	switch op {
	case "+":
		return Float(a + b), nil
	case "-":
		return Float(a - b), nil
	case "*":
		return Float(a * b), nil
	case "/":
		if b == 0 {
			return Value{}, errZeroDiv
		}
		return Float(a / b), nil
	case "//":
		if b == 0 {
			return Value{}, errZeroDiv
		}
		return Float(math.Floor(a / b)), nil
	case "%":
		if b == 0 {
			return Value{}, errZeroDiv
		}
		m := math.Mod(a, b)
		if m != 0 && (m < 0) != (b < 0) {
			m += b
		}
		return Float(m), nil
	case "**":
		if a == 0 && b < 0 {
			return Value{}, errZeroDiv
		}
		r := math.Pow(a, b)
		if math.IsNaN(r) && !math.IsNaN(a) && !math.IsNaN(b) {
			return Value{}, errors.New("negative number raised to a fractional power")
		}
		return Float(r), nil
	}
	return Value{}, fmt.Errorf("unsupported operand types for %s: float", op)
}

// index is x[i] with negative indexes from the end.
func index(x, i Value) (Value, error) {
	if !i.isInt() {
		return Value{}, fmt.Errorf("indices must be integers, not %s", i.k)
	}
	n := 0
	switch x.k {
	case StrKind, BytesKind:
		n = len(x.s)
	case ListKind:
		n = len(x.list)
	default:
		return Value{}, fmt.Errorf("%s is not subscriptable", x.k)
	}
	k := i.int()
	if k < 0 {
		k += int64(n)
	}
	if k < 0 || k >= int64(n) {
		return Value{}, errors.New("index out of range")
	}
	switch x.k {
	case StrKind:
		if isASCII(x.s) {
			return Str(x.s[k : k+1]), nil
		}
		r := []rune(x.s)
		if k >= int64(len(r)) {
			return Value{}, errors.New("index out of range")
		}
		return Str(string(r[k])), nil
	case BytesKind:
		return Int(int64(x.s[k])), nil
	}
	return x.list[k], nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// sliceValue is x[lo:hi] (None bounds are open).
func sliceValue(x, lo, hi Value) (Value, error) {
	n := 0
	s := x.s
	var runes []rune
	switch x.k {
	case StrKind:
		if !isASCII(s) {
			runes = []rune(s)
			n = len(runes)
		} else {
			n = len(s)
		}
	case BytesKind:
		n = len(s)
	case ListKind:
		n = len(x.list)
	default:
		return Value{}, fmt.Errorf("%s is not subscriptable", x.k)
	}
	bound := func(v Value, def int) (int, error) {
		if v.k == NoneKind {
			return def, nil
		}
		if !v.isInt() {
			return 0, fmt.Errorf("slice indices must be integers, not %s", v.k)
		}
		k := v.int()
		if k < 0 {
			k += int64(n)
			if k < 0 {
				k = 0
			}
		}
		if k > int64(n) {
			k = int64(n)
		}
		return int(k), nil
	}
	a, err := bound(lo, 0)
	if err != nil {
		return Value{}, err
	}
	b, err := bound(hi, n)
	if err != nil {
		return Value{}, err
	}
	if b < a {
		b = a
	}
	switch {
	case runes != nil:
		return Str(string(runes[a:b])), nil
	case x.k == ListKind:
		return List(x.list[a:b:b]), nil
	}
	return Value{k: x.k, s: s[a:b]}, nil
}
