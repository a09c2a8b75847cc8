package expr

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Python's string formatting, the two forms field configurations use:
// "%.1f %s" % value (a list stands for Python's tuple of arguments) and
// "{:.2f} {}".format(a, b). Conversions: s r d i u f F e E g G x X o c %,
// with flags, width, precision and (format) fill, alignment, sign, zero
// padding and thousands separators. No nested fields, no attribute or key
// lookups in fields, no !r/!s conversions.

// formatSpec is one parsed conversion.
type formatSpec struct {
	fill      rune
	align     byte // '<', '>', '^', '=' or 0 (type's default)
	sign      byte // '+', '-', ' ' or 0
	alt       bool
	zero      bool
	width     int
	grouping  byte // ',' or '_' or 0
	precision int  // -1: none
	verb      byte // conversion type, 0: none
}

// percentFormat is the % operator with a str on the left.
func percentFormat(format string, arg Value) (Value, error) {
	args := []Value{arg}
	if arg.k == ListKind {
		args = arg.list
	}
	var b strings.Builder
	used := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		sp := formatSpec{precision: -1, fill: ' '}
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '-':
				sp.align = '<'
			case '+':
				sp.sign = '+'
			case ' ':
				if sp.sign == 0 {
					sp.sign = ' '
				}
			case '0':
				sp.zero = true
			case '#':
				sp.alt = true
			default:
				break flags
			}
		}
		i = readInt(format, i, &sp.width)
		if i < len(format) && format[i] == '.' {
			sp.precision = 0
			i = readInt(format, i+1, &sp.precision)
		}
		if i >= len(format) {
			return Value{}, errors.New("incomplete format")
		}
		sp.verb = format[i]
		if sp.verb == '%' {
			b.WriteByte('%')
			continue
		}
		if used >= len(args) {
			return Value{}, errors.New("not enough arguments for format string")
		}
		if sp.align != '<' && sp.zero && sp.verb != 's' && sp.verb != 'r' && sp.verb != 'c' {
			sp.fill, sp.align = '0', '='
		}
		s, err := formatValue(args[used], sp, true)
		if err != nil {
			return Value{}, err
		}
		used++
		b.WriteString(s)
		if b.Len() > MaxLen {
			return Value{}, errTooLong
		}
	}
	if used < len(args) && arg.k == ListKind {
		return Value{}, errors.New("not all arguments converted during string formatting")
	}
	return Str(b.String()), nil
}

func readInt(s string, i int, n *int) int {
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if *n < 1<<20 {
			*n = *n*10 + int(s[i]-'0')
		}
	}
	return i
}

// strFormat is str.format.
func strFormat(format string, args []Value) (Value, error) {
	var b strings.Builder
	auto, manual := 0, false
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '{' && i+1 < len(format) && format[i+1] == '{', c == '}' && i+1 < len(format) && format[i+1] == '}':
			b.WriteByte(c)
			i++
			continue
		case c == '}':
			return Value{}, errors.New("single '}' encountered in format string")
		case c != '{':
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(format[i:], '}')
		if end < 0 {
			return Value{}, errors.New("single '{' encountered in format string")
		}
		field := format[i+1 : i+end]
		i += end
		name, spec, _ := strings.Cut(field, ":")
		var idx int
		if name == "" {
			if manual {
				return Value{}, errors.New("cannot switch from manual field numbering to automatic")
			}
			idx, auto = auto, auto+1
		} else {
			n, err := strconv.Atoi(name)
			if err != nil || n < 0 {
				return Value{}, fmt.Errorf("format field %q: only positional fields are supported", name)
			}
			idx, manual = n, true
		}
		if idx >= len(args) {
			return Value{}, fmt.Errorf("replacement index %d out of range", idx)
		}
		sp, err := parseFormatSpec(spec)
		if err != nil {
			return Value{}, err
		}
		s, err := formatValue(args[idx], sp, false)
		if err != nil {
			return Value{}, err
		}
		b.WriteString(s)
		if b.Len() > MaxLen {
			return Value{}, errTooLong
		}
	}
	return Str(b.String()), nil
}

// parseFormatSpec parses [[fill]align][sign][#][0][width][,|_][.precision][type].
func parseFormatSpec(s string) (formatSpec, error) {
	sp := formatSpec{precision: -1, fill: ' '}
	isAlign := func(c byte) bool { return c == '<' || c == '>' || c == '^' || c == '=' }
	if r, n := utf8.DecodeRuneInString(s); n > 0 && n < len(s) && isAlign(s[n]) {
		sp.fill, sp.align, s = r, s[n], s[n+1:]
	} else if len(s) > 0 && isAlign(s[0]) {
		sp.align, s = s[0], s[1:]
	}
	if len(s) > 0 && (s[0] == '+' || s[0] == '-' || s[0] == ' ') {
		sp.sign, s = s[0], s[1:]
	}
	if len(s) > 0 && s[0] == '#' {
		sp.alt, s = true, s[1:]
	}
	if len(s) > 0 && s[0] == '0' {
		sp.zero, s = true, s[1:]
	}
	i := readInt(s, 0, &sp.width)
	if i < len(s) && (s[i] == ',' || s[i] == '_') {
		sp.grouping = s[i]
		i++
	}
	if i < len(s) && s[i] == '.' {
		sp.precision = 0
		j := readInt(s, i+1, &sp.precision)
		if j == i+1 {
			return sp, errors.New("format specifier missing precision")
		}
		i = j
	}
	if i < len(s) {
		sp.verb = s[i]
		i++
	}
	if i != len(s) {
		return sp, fmt.Errorf("invalid format specifier %q", s)
	}
	if sp.zero && sp.align == 0 {
		sp.fill, sp.align = '0', '='
	}
	return sp, nil
}

// formatValue renders v by sp; percent selects the % operator's rules
// (numbers right-aligned, %s is str(), %d truncates floats).
func formatValue(v Value, sp formatSpec, percent bool) (string, error) {
	verb := sp.verb
	if verb == 0 {
		switch {
		case v.k == FloatKind && sp.precision >= 0:
			verb = 'g'
		case v.isInt() && v.k != BoolKind:
			verb = 'd'
		default:
			verb = 's'
		}
	}
	var body string
	numeric := false
	switch verb {
	case 's', 'r':
		if verb == 'r' {
			body = v.repr()
		} else {
			body = v.String()
		}
		if sp.precision >= 0 && utf8.RuneCountInString(body) > sp.precision {
			body = string([]rune(body)[:sp.precision])
		}
	case 'c':
		switch {
		case v.isInt():
			if v.int() < 0 || v.int() > utf8.MaxRune {
				return "", errors.New("%c arg not in range")
			}
			body = string(rune(v.int()))
		case v.k == StrKind && utf8.RuneCountInString(v.s) == 1:
			body = v.s
		default:
			return "", fmt.Errorf("%%c requires an int or a single character, not %s", v.k)
		}
	case 'd', 'i', 'u', 'x', 'X', 'o', 'b', 'n':
		if !v.isNum() || (v.k == FloatKind && !percent) {
			return "", fmt.Errorf("format %c needs an integer, not %s", verb, v.k)
		}
		i := v.int()
		if v.k == FloatKind {
			f := v.float()
			if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 1<<63 {
				return "", errors.New("cannot convert float to integer")
			}
			i = int64(f)
		}
		numeric = true
		neg := i < 0
		u := uint64(i)
		if neg {
			u = uint64(-i)
		}
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'b': 2}[verb]
		if base == 0 {
			base = 10
		}
		digits := strconv.FormatUint(u, base)
		if verb == 'X' {
			digits = strings.ToUpper(digits)
		}
		if sp.grouping != 0 && base == 10 {
			digits = group(digits, sp.grouping)
		}
		if sp.alt && base != 10 {
			digits = "0" + map[byte]string{'x': "x", 'X': "X", 'o': "o", 'b': "b"}[verb] + digits
		}
		body = sign(neg, sp.sign) + digits
	case 'f', 'F', 'e', 'E', 'g', 'G', '%':
		if !v.isNum() {
			return "", fmt.Errorf("format %c needs a number, not %s", verb, v.k)
		}
		numeric = true
		f := v.toFloat()
		prec := sp.precision
		if prec < 0 {
			prec = 6
		}
		neg := math.Signbit(f) && !math.IsNaN(f)
		a := math.Abs(f)
		var digits string
		switch {
		case math.IsInf(a, 0):
			digits = "inf"
		case math.IsNaN(a):
			digits = "nan"
		case verb == '%':
			digits = strconv.FormatFloat(a*100, 'f', prec, 64) + "%"
		case verb == 'f' || verb == 'F':
			digits = strconv.FormatFloat(a, 'f', prec, 64)
		case verb == 'e' || verb == 'E':
			digits = strconv.FormatFloat(a, 'e', prec, 64)
		default:
			digits = strconv.FormatFloat(a, 'g', max(prec, 1), 64)
		}
		if verb == 'F' || verb == 'E' || verb == 'G' {
			digits = strings.ToUpper(digits)
		}
		if sp.grouping != 0 {
			whole, frac, dot := strings.Cut(digits, ".")
			if !strings.ContainsAny(whole, "einfa") {
				digits = group(whole, sp.grouping)
				if dot {
					digits += "." + frac
				}
			}
		}
		body = sign(neg, sp.sign) + digits
	default:
		return "", fmt.Errorf("unsupported format character %q", verb)
	}
	return pad(body, sp, numeric), nil
}

func sign(neg bool, mode byte) string {
	switch {
	case neg:
		return "-"
	case mode == '+':
		return "+"
	case mode == ' ':
		return " "
	}
	return ""
}

func group(digits string, sep byte) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += 3 {
		b.WriteByte(sep)
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// pad fills body to the spec's width.
func pad(body string, sp formatSpec, numeric bool) string {
	n := utf8.RuneCountInString(body)
	if sp.width <= n {
		return body
	}
	fill := strings.Repeat(string(sp.fill), sp.width-n)
	align := sp.align
	if align == 0 {
		align = '<'
		if numeric {
			align = '>'
		}
	}
	switch align {
	case '>':
		return fill + body
	case '^':
		left := (sp.width - n) / 2
		return fill[:left*utf8.RuneLen(sp.fill)] + body + fill[left*utf8.RuneLen(sp.fill):]
	case '=':
		if len(body) > 0 && (body[0] == '-' || body[0] == '+' || body[0] == ' ') {
			return body[:1] + fill + body[1:]
		}
		return fill + body
	}
	return body + fill
}
