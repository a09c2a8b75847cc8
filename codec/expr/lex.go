package expr

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tNum
	tStr
	tIdent
	tOp
)

type token struct {
	kind tokKind
	text string // operator or identifier text, decoded string literal
	num  Value  // number literal
	pos  int
}

// Error is a compile error with a byte offset into the source.
type Error struct {
	Src string
	Pos int
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("expression %q: column %d: %s", e.Src, e.Pos+1, e.Msg)
}

// operators, longest first.
var ops = []string{
	"**", "//", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
	"+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "~", "!",
	"(", ")", "[", "]", ",", ".", ":", "?", "=",
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		c := src[i]
		start := i
		switch {
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			j := i
			for j < len(src) && (isIdentChar(src[j]) || src[j] == '.' ||
				((src[j] == '+' || src[j] == '-') && j > i && (src[j-1] == 'e' || src[j-1] == 'E') && !isPrefixed(src[i:j]))) {
				j++
			}
			v, err := parseNumber(src[i:j])
			if err != nil {
				return nil, &Error{src, i, err.Error()}
			}
			toks = append(toks, token{kind: tNum, num: v, pos: start, text: src[i:j]})
			i = j
		case c == '"' || c == '\'':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, &Error{src, i, err.Error()}
			}
			toks = append(toks, token{kind: tStr, text: s, pos: start})
			i = n
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			// String prefixes r'..', b'..' are not supported: report them.
			if j < len(src) && (src[j] == '\'' || src[j] == '"') && j-i <= 2 {
				return nil, &Error{src, i, "string prefixes (r'', b'', f'') are not supported"}
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], pos: start})
			i = j
		default:
			found := ""
			for _, op := range ops {
				if strings.HasPrefix(src[i:], op) {
					found = op
					break
				}
			}
			if found == "" {
				return nil, &Error{src, i, fmt.Sprintf("unexpected character %q", c)}
			}
			toks = append(toks, token{kind: tOp, text: found, pos: start})
			i += len(found)
		}
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isPrefixed(s string) bool {
	return len(s) > 1 && s[0] == '0' && strings.ContainsAny(s[1:2], "xXbBoO")
}

func parseNumber(s string) (Value, error) {
	clean := strings.ReplaceAll(s, "_", "")
	if strings.Contains(s, "__") || strings.HasSuffix(s, "_") {
		return Value{}, fmt.Errorf("invalid number %q", s)
	}
	if isPrefixed(clean) {
		base := 16
		switch clean[1] {
		case 'b', 'B':
			base = 2
		case 'o', 'O':
			base = 8
		}
		u, err := strconv.ParseUint(clean[2:], base, 64)
		if err != nil || u > 1<<63-1 {
			return Value{}, fmt.Errorf("invalid number %q", s)
		}
		return Int(int64(u)), nil
	}
	if !strings.ContainsAny(clean, ".eE") {
		if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
			return Value{}, fmt.Errorf("leading zeros in %q (use 0o for octal)", s)
		}
		if i, err := strconv.ParseInt(clean, 10, 64); err == nil {
			return Int(i), nil
		}
		if clean == "9223372036854775808" {
			return Value{k: minIntLit}, nil // only valid negated
		}
		return Value{}, fmt.Errorf("integer literal %s does not fit 64 bits", s)
	}
	f, err := strconv.ParseFloat(clean, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return Value{}, fmt.Errorf("invalid number %q", s)
		}
	}
	return Float(f), nil
}

func lexString(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		c := src[j]
		switch {
		case c == q:
			return b.String(), j + 1, nil
		case c == '\\' && j+1 < len(src):
			j++
			switch e := src[j]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'x':
				if j+2 >= len(src) {
					return "", j, fmt.Errorf("bad \\x escape")
				}
				v, err := strconv.ParseUint(src[j+1:j+3], 16, 8)
				if err != nil {
					return "", j, fmt.Errorf("bad \\x escape")
				}
				b.WriteRune(rune(v))
				j += 2
			case 'u':
				if j+4 >= len(src) {
					return "", j, fmt.Errorf("bad \\u escape")
				}
				v, err := strconv.ParseUint(src[j+1:j+5], 16, 16)
				if err != nil {
					return "", j, fmt.Errorf("bad \\u escape")
				}
				b.WriteRune(rune(v))
				j += 4
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '\n':
			return "", j, fmt.Errorf("newline in string")
		default:
			b.WriteByte(c)
		}
	}
	return "", len(src), fmt.Errorf("unterminated string")
}
