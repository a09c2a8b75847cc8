package modbus

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// The upstream gateway is written in Python; a few of its observable
// behaviours follow Python's built-ins: the text of a decoded value that
// "variants" are looked up by is str(value), and written values go through
// int() and float(). These helpers reproduce them.

// pyStr returns Python's str() of a decoded value.
func pyStr(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pyFloatRepr(x)
	case string:
		return x
	case json.RawMessage:
		return pyListRepr(x)
	}
	return fmt.Sprint(v)
}

// pyListRepr turns a JSON number or list of booleans/numbers into Python's
// repr ("[True, False]").
func pyListRepr(raw json.RawMessage) string {
	var list []any
	if json.Unmarshal(raw, &list) != nil {
		return string(raw) // a big integer
	}
	parts := make([]string, len(list))
	for i, e := range list {
		switch x := e.(type) {
		case bool:
			parts[i] = pyStr(x)
		case float64:
			parts[i] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pyFloatRepr formats f as Python's repr(float): the shortest round-trip
// digits, positional for exponents -4..15, else scientific with a signed
// two-digit exponent; always a ".0" on integral positional values.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±dd
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, exp, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	decpt := e + 1
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			return sign + "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			return sign + digits[:decpt] + "." + digits[decpt:]
		}
	}
	out := sign + digits[:1]
	if len(digits) > 1 {
		out += "." + digits[1:]
	}
	es := "+"
	if e < 0 {
		es, e = "-", -e
	}
	if e < 10 {
		return out + "e" + es + "0" + strconv.Itoa(e)
	}
	return out + "e" + es + strconv.Itoa(e)
}

// pyTypeName names the Python type a JSON value would have.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "number"
}

// pyInt is Python's int() of a value decoded from JSON (with UseNumber):
// integers exactly, floats truncated, strings as base-10 integer literals.
func pyInt(v any) (*big.Int, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), nil
		}
		return big.NewInt(0), nil
	case json.Number:
		if n, ok := new(big.Int).SetString(string(x), 10); ok {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("cannot convert %s to integer", x)
		}
		n, _ := big.NewFloat(math.Trunc(f)).Int(nil)
		return n, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("cannot convert float %v to integer", x)
		}
		n, _ := big.NewFloat(math.Trunc(x)).Int(nil)
		return n, nil
	case int64:
		return big.NewInt(x), nil
	case int:
		return big.NewInt(int64(x)), nil
	case string:
		if lit, ok := pyIntLiteral(x); ok {
			if n, ok := new(big.Int).SetString(lit, 10); ok {
				return n, nil
			}
		}
		return nil, fmt.Errorf("invalid literal for int() with base 10: '%s'", x)
	}
	return nil, fmt.Errorf("int() argument must be a string, a bytes-like object or a real number, not '%s'", pyTypeName(v))
}

// pyIntLiteral checks a Python base-10 integer literal (surrounding
// space, a sign, digits with single underscores between them) and returns
// it without the underscores.
func pyIntLiteral(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			b.WriteByte('-')
		}
		s = s[1:]
	}
	if s == "" {
		return "", false
	}
	underscore := true // no leading underscore
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
			underscore = false
		case c == '_' && !underscore:
			underscore = true
		default:
			return "", false
		}
	}
	return b.String(), !underscore
}

// pyFloat is Python's float() of a value decoded from JSON.
func pyFloat(v any) (float64, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case string:
		s := strings.TrimSpace(x)
		if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.HasPrefix(strings.ToLower(strings.TrimLeft(s, "+-")), "0x") {
			return f, nil
		} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil // Python gives inf or 0 as well
		}
		return 0, fmt.Errorf("could not convert string to float: '%s'", x)
	}
	return 0, fmt.Errorf("float() argument must be a string or a real number, not '%s'", pyTypeName(v))
}

// pyRound is Python's round(x, n) for floats.
func pyRound(x float64, n int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || n > 17 {
		return x
	}
	if n < 0 {
		p := math.Pow(10, float64(-n))
		return math.RoundToEven(x/p) * p
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', n, 64), 64)
	if err != nil {
		return x
	}
	return r
}
