package expr

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

type builtin struct {
	min, max int // argument count; max -1: any
	fn       func(args []Value) (Value, error)
}

// builtinParams names the parameters, by position, of the builtins that
// take keyword arguments.
var builtinParams = map[string][]string{
	"round":          {"number", "ndigits"},
	"int.from_bytes": {"bytes", "byteorder", "signed"},
}

var builtins map[string]builtin

func init() {
	f1 := func(name string, fn func(float64) float64) builtin {
		return builtin{1, 1, func(a []Value) (Value, error) {
			if !a[0].isNum() {
				return Value{}, fmt.Errorf("%s() needs a number, not %s", name, a[0].k)
			}
			r := fn(a[0].toFloat())
			if math.IsNaN(r) && !math.IsNaN(a[0].toFloat()) {
				return Value{}, fmt.Errorf("%s(): math domain error", name)
			}
			return Float(r), nil
		}}
	}
	toInt := func(name string, fn func(float64) float64) builtin {
		return builtin{1, 1, func(a []Value) (Value, error) {
			if a[0].isInt() {
				return Int(a[0].int()), nil
			}
			if a[0].k != FloatKind {
				return Value{}, fmt.Errorf("%s() needs a number, not %s", name, a[0].k)
			}
			return floatToInt(fn(a[0].float()))
		}}
	}
	builtins = map[string]builtin{
		"abs": {1, 1, func(a []Value) (Value, error) {
			switch a[0].k {
			case IntKind, BoolKind:
				if a[0].int() == math.MinInt64 {
					return Value{}, errOverflow
				}
				return Int(abs64(a[0].int())), nil
			case FloatKind:
				return Float(math.Abs(a[0].float())), nil
			}
			return Value{}, fmt.Errorf("abs() needs a number, not %s", a[0].k)
		}},
		"min":            {1, -1, func(a []Value) (Value, error) { return extreme(a, -1) }},
		"max":            {1, -1, func(a []Value) (Value, error) { return extreme(a, 1) }},
		"round":          {1, 2, round},
		"int.from_bytes": {1, 3, fromBytes},
		"divmod": {2, 2, func(a []Value) (Value, error) {
			q, err := arith("//", a[0], a[1])
			if err != nil {
				return q, err
			}
			r, err := arith("%", a[0], a[1])
			return List([]Value{q, r}), err
		}},
		"int":   {1, 2, toIntValue},
		"float": {1, 1, toFloatValue},
		"str": {0, 1, func(a []Value) (Value, error) {
			if len(a) == 0 {
				return Str(""), nil
			}
			return Str(a[0].String()), nil
		}},
		"bool": {0, 1, func(a []Value) (Value, error) {
			return Bool(len(a) == 1 && a[0].Truth()), nil
		}},
		"len": {1, 1, func(a []Value) (Value, error) {
			switch a[0].k {
			case StrKind:
				return Int(int64(len([]rune(a[0].s)))), nil
			case BytesKind:
				return Int(int64(len(a[0].s))), nil
			case ListKind:
				return Int(int64(len(a[0].list))), nil
			}
			return Value{}, fmt.Errorf("object of type %s has no len()", a[0].k)
		}},
		"hex": {1, 1, func(a []Value) (Value, error) { return intFormat(a[0], "0x", 16) }},
		"bin": {1, 1, func(a []Value) (Value, error) { return intFormat(a[0], "0b", 2) }},
		"oct": {1, 1, func(a []Value) (Value, error) { return intFormat(a[0], "0o", 8) }},
		"pow": {2, 2, func(a []Value) (Value, error) { return arith("**", a[0], a[1]) }},
		"sum": {1, 1, func(a []Value) (Value, error) {
			items, err := iterate(a[0])
			if err != nil {
				return Value{}, err
			}
			acc := Int(0)
			for _, it := range items {
				if acc, err = arith("+", acc, it); err != nil {
					return Value{}, err
				}
			}
			return acc, nil
		}},
		"any": {1, 1, func(a []Value) (Value, error) {
			items, err := iterate(a[0])
			for _, it := range items {
				if it.Truth() {
					return Bool(true), nil
				}
			}
			return Bool(false), err
		}},
		"all": {1, 1, func(a []Value) (Value, error) {
			items, err := iterate(a[0])
			for _, it := range items {
				if !it.Truth() {
					return Bool(false), nil
				}
			}
			return Bool(true), err
		}},
		"ord": {1, 1, func(a []Value) (Value, error) {
			if a[0].k == StrKind {
				if r := []rune(a[0].s); len(r) == 1 {
					return Int(int64(r[0])), nil
				}
			}
			return Value{}, errors.New("ord() expects a character")
		}},
		"chr": {1, 1, func(a []Value) (Value, error) {
			if !a[0].isInt() || a[0].int() < 0 || a[0].int() > 0x10ffff {
				return Value{}, errors.New("chr() arg not in range(0x110000)")
			}
			return Str(string(rune(a[0].int()))), nil
		}},
		"bytes": {1, 1, func(a []Value) (Value, error) {
			items, err := iterate(a[0])
			if err != nil || a[0].k == StrKind {
				return Value{}, errors.New("bytes() needs a list of integers")
			}
			b := make([]byte, len(items))
			for i, it := range items {
				if !it.isInt() || it.int() < 0 || it.int() > 255 {
					return Value{}, errors.New("bytes must be in range(0, 256)")
				}
				b[i] = byte(it.int())
			}
			return Bytes(b), nil
		}},
		"list": {1, 1, func(a []Value) (Value, error) {
			items, err := iterate(a[0])
			return List(append([]Value(nil), items...)), err
		}},
		"sorted": {1, 1, func(a []Value) (Value, error) {
			items, err := iterate(a[0])
			if err != nil {
				return Value{}, err
			}
			l := append([]Value(nil), items...)
			var cerr error
			sort.SliceStable(l, func(i, j int) bool {
				r, err := compare(l[i], l[j])
				if err != nil {
					cerr = err
				}
				return r < 0
			})
			return List(l), cerr
		}},
		"sqrt":       f1("sqrt", math.Sqrt),
		"math.sqrt":  f1("sqrt", math.Sqrt),
		"math.exp":   f1("exp", math.Exp),
		"math.log10": f1("log10", math.Log10),
		"math.log2":  f1("log2", math.Log2),
		"math.sin":   f1("sin", math.Sin),
		"math.cos":   f1("cos", math.Cos),
		"math.tan":   f1("tan", math.Tan),
		"math.fabs":  f1("fabs", math.Abs),
		"math.floor": toInt("floor", math.Floor),
		"math.ceil":  toInt("ceil", math.Ceil),
		"math.trunc": toInt("trunc", math.Trunc),
		"math.pow": {2, 2, func(a []Value) (Value, error) {
			if !a[0].isNum() || !a[1].isNum() {
				return Value{}, errors.New("pow() needs numbers")
			}
			return floatArith("**", a[0].toFloat(), a[1].toFloat())
		}},
		"math.log": {1, 2, func(a []Value) (Value, error) {
			for _, x := range a {
				if !x.isNum() || x.toFloat() <= 0 {
					return Value{}, errors.New("log(): math domain error")
				}
			}
			if len(a) == 2 {
				if a[1].toFloat() == 1 {
					return Value{}, errZeroDiv
				}
				return Float(math.Log(a[0].toFloat()) / math.Log(a[1].toFloat())), nil
			}
			return Float(math.Log(a[0].toFloat())), nil
		}},
		"math.isnan": {1, 1, func(a []Value) (Value, error) {
			return Bool(a[0].k == FloatKind && math.IsNaN(a[0].float())), nil
		}},
	}
	builtins["floor"] = builtins["math.floor"]
	builtins["ceil"] = builtins["math.ceil"]
	builtins["log"] = builtins["math.log"]
}

// fromBytes is int.from_bytes(bytes, byteorder='big', signed=False), for
// values of up to 8 bytes (a longer value must fit in 64 bits).
func fromBytes(a []Value) (Value, error) {
	if a[0].k != BytesKind && a[0].k != ListKind {
		return Value{}, fmt.Errorf("cannot convert %s to bytes", a[0].k)
	}
	b := []byte(a[0].s)
	if a[0].k == ListKind {
		b = make([]byte, len(a[0].list))
		for i, e := range a[0].list {
			if !e.isInt() || e.int() < 0 || e.int() > 255 {
				return Value{}, errors.New("bytes must be in range(0, 256)")
			}
			b[i] = byte(e.int())
		}
	}
	little := false
	if len(a) > 1 {
		switch {
		case a[1].k == StrKind && a[1].s == "little":
			little = true
		case a[1].k == StrKind && a[1].s == "big":
		default:
			return Value{}, errors.New("byteorder must be either 'little' or 'big'")
		}
	}
	signed := len(a) > 2 && a[2].Truth()
	if little {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		b = r
	}
	// Leading bytes beyond 64 bits must be sign or zero fill.
	for len(b) > 8 {
		if b[0] != 0 && !(signed && b[0] == 0xFF && b[1]&0x80 != 0) {
			return Value{}, errOverflow
		}
		b = b[1:]
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	if !signed {
		if u > math.MaxInt64 {
			return Value{}, errOverflow
		}
		return Int(int64(u)), nil
	}
	if n := len(b); n > 0 && n < 8 && b[0]&0x80 != 0 {
		u |= ^uint64(0) << (8 * n)
	}
	return Int(int64(u)), nil
}

func floatToInt(f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, errors.New("cannot convert nan or inf to integer")
	}
	if f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return Value{}, errOverflow
	}
	return Int(int64(f)), nil
}

func extreme(a []Value, sign int) (Value, error) {
	items := a
	if len(a) == 1 {
		var err error
		if items, err = iterate(a[0]); err != nil {
			return Value{}, err
		}
	}
	if len(items) == 0 {
		return Value{}, errors.New("min()/max() of an empty sequence")
	}
	best := items[0]
	for _, it := range items[1:] {
		r, err := compare(it, best)
		if err != nil {
			return Value{}, err
		}
		if r == sign {
			best = it
		}
	}
	return best, nil
}

// round is Python's round(x[, n]): half to even; an int without n.
func round(a []Value) (Value, error) {
	x := a[0]
	if !x.isNum() {
		return Value{}, fmt.Errorf("round() needs a number, not %s", x.k)
	}
	if len(a) == 1 || a[1].k == NoneKind {
		if x.isInt() {
			return Int(x.int()), nil
		}
		return floatToInt(math.RoundToEven(x.float()))
	}
	if !a[1].isInt() {
		return Value{}, errors.New("round() digits must be an integer")
	}
	n := a[1].int()
	if x.isInt() {
		if n >= 0 {
			return Int(x.int()), nil
		}
		p := math.Pow(10, float64(-n))
		return floatToInt(math.RoundToEven(float64(x.int())/p) * p)
	}
	f := x.float()
	if n > 308 || math.IsNaN(f) || math.IsInf(f, 0) {
		return Float(f), nil
	}
	if n < -308 {
		return Float(0), nil
	}
	// Python rounds the exact binary value to n decimals, ties to even;
	// strconv's correctly rounded formatting does the same.
	if n >= 0 {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(n), 64), 64)
		return Float(r), nil
	}
	p := math.Pow(10, float64(-n))
	return Float(math.RoundToEven(f/p) * p), nil
}

func toIntValue(a []Value) (Value, error) {
	x := a[0]
	if len(a) == 2 {
		if x.k != StrKind || !a[1].isInt() {
			return Value{}, errors.New("int() with a base needs a string")
		}
		base := int(a[1].int())
		s := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(x.s), "_", ""))
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimLeft(s, "+-")
		if base == 16 {
			s = strings.TrimPrefix(s, "0x")
		} else if base == 2 {
			s = strings.TrimPrefix(s, "0b")
		} else if base == 8 {
			s = strings.TrimPrefix(s, "0o")
		}
		if base == 0 {
			base = 10
			switch {
			case strings.HasPrefix(s, "0x"):
				base, s = 16, s[2:]
			case strings.HasPrefix(s, "0b"):
				base, s = 2, s[2:]
			case strings.HasPrefix(s, "0o"):
				base, s = 8, s[2:]
			}
		}
		if base < 2 || base > 36 {
			return Value{}, errors.New("int() base must be 2..36 or 0")
		}
		u, err := strconv.ParseUint(s, base, 64)
		if err != nil || u > 1<<63 || (u == 1<<63 && !neg) {
			return Value{}, fmt.Errorf("invalid literal for int() with base %d: %q", base, x.s)
		}
		if neg {
			return Int(-int64(u)), nil
		}
		return Int(int64(u)), nil
	}
	switch x.k {
	case IntKind, BoolKind:
		return Int(x.int()), nil
	case FloatKind:
		return floatToInt(x.float())
	case StrKind:
		s := strings.ReplaceAll(strings.TrimSpace(x.s), "_", "")
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i), nil
		}
		return Value{}, fmt.Errorf("invalid literal for int(): %q", x.s)
	}
	return Value{}, fmt.Errorf("int() cannot convert %s", x.k)
}

func toFloatValue(a []Value) (Value, error) {
	x := a[0]
	switch x.k {
	case IntKind, BoolKind, FloatKind:
		return Float(x.toFloat()), nil
	case StrKind:
		s := strings.TrimSpace(x.s)
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return Value{}, fmt.Errorf("could not convert string to float: %q", x.s)
			}
		}
		return Float(f), nil
	}
	return Value{}, fmt.Errorf("float() cannot convert %s", x.k)
}

func intFormat(x Value, prefix string, base int) (Value, error) {
	if !x.isInt() {
		return Value{}, fmt.Errorf("%s is not an integer", x.k)
	}
	i := x.int()
	if i < 0 {
		return Str("-" + prefix + strconv.FormatUint(uint64(-i), base)), nil
	}
	return Str(prefix + strconv.FormatInt(i, base)), nil
}

func (c *compiler) call(n *callNode) (evalFn, error) {
	if c.noFuncs {
		return nil, c.errf(n, "function calls are disabled (strict evaluation): %s()", n.fn)
	}
	b, ok := builtins[n.fn]
	if !ok {
		names := make([]string, 0, len(builtins))
		for k := range builtins {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, c.errf(n, "unknown function %s (available: %s)", n.fn, strings.Join(names, ", "))
	}
	argNodes := n.args
	if len(n.kw) > 0 {
		argNodes = append([]node(nil), n.args...)
		for _, k := range n.kw {
			pos := -1
			for i, name := range builtinParams[n.fn] {
				if name == k.name {
					pos = i
				}
			}
			if pos < 0 {
				return nil, c.errf(n, "%s() got an unexpected keyword argument %s", n.fn, k.name)
			}
			for len(argNodes) <= pos {
				argNodes = append(argNodes, nil)
			}
			if argNodes[pos] != nil {
				return nil, c.errf(n, "%s() got multiple values for argument %s", n.fn, k.name)
			}
			argNodes[pos] = k.val
		}
		for i, a := range argNodes {
			if a == nil {
				return nil, c.errf(n, "%s() missing argument %s", n.fn, builtinParams[n.fn][i])
			}
		}
	}
	if len(argNodes) < b.min || (b.max >= 0 && len(argNodes) > b.max) {
		return nil, c.errf(n, "%s() takes %s arguments, %d given", n.fn, argRange(b.min, b.max), len(argNodes))
	}
	fns, err := c.nodes(argNodes)
	if err != nil {
		return nil, err
	}
	name := n.fn
	return func(f *frame) (Value, error) {
		var buf [4]Value
		args := buf[:0]
		for _, fn := range fns {
			v, err := fn(f)
			if err != nil {
				return v, err
			}
			args = append(args, v)
		}
		v, err := b.fn(args)
		if err != nil {
			return v, fmt.Errorf("%s(): %w", name, err)
		}
		return v, nil
	}, nil
}

func argRange(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

type method struct {
	min, max int
	fn       func(recv Value, args []Value) (Value, error)
}

func strArg(a []Value, i int) (string, error) {
	if a[i].k != StrKind {
		return "", fmt.Errorf("argument %d must be str, not %s", i+1, a[i].k)
	}
	return a[i].s, nil
}

var methods = map[string]method{
	"upper": {0, 0, func(r Value, _ []Value) (Value, error) { return Str(strings.ToUpper(r.s)), nil }},
	"lower": {0, 0, func(r Value, _ []Value) (Value, error) { return Str(strings.ToLower(r.s)), nil }},
	"strip": {0, 1, func(r Value, a []Value) (Value, error) {
		if len(a) == 1 {
			cut, err := strArg(a, 0)
			return Str(strings.Trim(r.s, cut)), err
		}
		return Str(strings.TrimSpace(r.s)), nil
	}},
	"lstrip": {0, 0, func(r Value, _ []Value) (Value, error) { return Str(strings.TrimLeft(r.s, " \t\r\n")), nil }},
	"rstrip": {0, 0, func(r Value, _ []Value) (Value, error) { return Str(strings.TrimRight(r.s, " \t\r\n")), nil }},
	"startswith": {1, 1, func(r Value, a []Value) (Value, error) {
		s, err := strArg(a, 0)
		return Bool(strings.HasPrefix(r.s, s)), err
	}},
	"endswith": {1, 1, func(r Value, a []Value) (Value, error) {
		s, err := strArg(a, 0)
		return Bool(strings.HasSuffix(r.s, s)), err
	}},
	"find": {1, 1, func(r Value, a []Value) (Value, error) {
		s, err := strArg(a, 0)
		return Int(int64(strings.Index(r.s, s))), err
	}},
	"replace": {2, 2, func(r Value, a []Value) (Value, error) {
		old, err := strArg(a, 0)
		if err != nil {
			return Value{}, err
		}
		nw, err := strArg(a, 1)
		if err != nil {
			return Value{}, err
		}
		out := strings.ReplaceAll(r.s, old, nw)
		if len(out) > MaxLen {
			return Value{}, errTooLong
		}
		return Str(out), nil
	}},
	"split": {0, 1, func(r Value, a []Value) (Value, error) {
		var parts []string
		if len(a) == 0 {
			parts = strings.Fields(r.s)
		} else {
			sep, err := strArg(a, 0)
			if err != nil {
				return Value{}, err
			}
			if sep == "" {
				return Value{}, errors.New("empty separator")
			}
			parts = strings.Split(r.s, sep)
		}
		l := make([]Value, len(parts))
		for i, p := range parts {
			l[i] = Str(p)
		}
		return List(l), nil
	}},
	"join": {1, 1, func(r Value, a []Value) (Value, error) {
		if a[0].k != ListKind {
			return Value{}, errors.New("join() needs a list of str")
		}
		parts := make([]string, len(a[0].list))
		n := 0
		for i, e := range a[0].list {
			if e.k != StrKind {
				return Value{}, fmt.Errorf("join(): item %d is %s, not str", i, e.k)
			}
			parts[i] = e.s
			n += len(e.s) + len(r.s)
		}
		if n > MaxLen {
			return Value{}, errTooLong
		}
		return Str(strings.Join(parts, r.s)), nil
	}},
	"hex": {0, 0, func(r Value, _ []Value) (Value, error) {
		return Str(fmt.Sprintf("%x", r.s)), nil
	}},
	"decode": {0, 1, func(r Value, a []Value) (Value, error) {
		return Str(strings.ToValidUTF8(r.s, "\uFFFD")), nil
	}},
	"format": {0, 8, func(r Value, a []Value) (Value, error) { return strFormat(r.s, a) }},
	"zfill": {1, 1, func(r Value, a []Value) (Value, error) {
		if !a[0].isInt() {
			return Value{}, fmt.Errorf("zfill() needs an int, not %s", a[0].k)
		}
		w := int(min(max(a[0].int(), 0), int64(MaxLen)))
		n := utf8.RuneCountInString(r.s)
		if n >= w {
			return r, nil
		}
		if r.s != "" && (r.s[0] == '-' || r.s[0] == '+') {
			return Str(r.s[:1] + strings.Repeat("0", w-n) + r.s[1:]), nil
		}
		return Str(strings.Repeat("0", w-n) + r.s), nil
	}},
	"isdigit": {0, 0, func(r Value, _ []Value) (Value, error) {
		if r.s == "" {
			return Bool(false), nil
		}
		for i := 0; i < len(r.s); i++ {
			if r.s[i] < '0' || r.s[i] > '9' {
				return Bool(false), nil
			}
		}
		return Bool(true), nil
	}},
}

// methodKinds lists the receiver kinds of each method.
var methodKinds = map[string][]Kind{
	"hex": {BytesKind}, "decode": {BytesKind}, "join": {StrKind},
}

func (c *compiler) method(n *methodNode) (evalFn, error) {
	m, ok := methods[n.name]
	if !ok {
		names := make([]string, 0, len(methods))
		for k := range methods {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, c.errf(n, "unknown method %s (available: %s)", n.name, strings.Join(names, ", "))
	}
	if len(n.args) < m.min || len(n.args) > m.max {
		return nil, c.errf(n, "%s() takes %s arguments, %d given", n.name, argRange(m.min, m.max), len(n.args))
	}
	rf, err := c.node(n.recv)
	if err != nil {
		return nil, err
	}
	fns, err := c.nodes(n.args)
	if err != nil {
		return nil, err
	}
	kinds := methodKinds[n.name]
	if kinds == nil {
		kinds = []Kind{StrKind}
	}
	name := n.name
	return func(f *frame) (Value, error) {
		r, err := rf(f)
		if err != nil {
			return r, err
		}
		okKind := false
		for _, k := range kinds {
			okKind = okKind || r.k == k
		}
		if !okKind {
			return Value{}, fmt.Errorf("%s has no method %s()", r.k, name)
		}
		var buf [2]Value
		args := buf[:0]
		for _, fn := range fns {
			v, err := fn(f)
			if err != nil {
				return v, err
			}
			args = append(args, v)
		}
		return m.fn(r, args)
	}, nil
}
