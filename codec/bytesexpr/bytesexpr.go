// Package bytesexpr compiles the byte-slice templates of the bytes
// converters (MQTT "type": "bytes", BLE, Socket, FTP): text in which
// [i], [a:b], [a:], [:b] and [:] select bytes of the raw payload with
// Python slice semantics (negative indexes count from the end, slices are
// clamped, an index out of range is an error).
//
//	t, _ := bytesexpr.Compile("[0:2]cm [2:]A")
//	s, err := t.Render(payload, bytesexpr.Decimal) // BLE style
//
// A selection is rendered as UTF-8 text (invalid sequences become
// U+FFFD), lowercase hex (MQTT hexMode) or the decimal values of the bytes
// concatenated (BLE's default converter). Text outside brackets is kept.
package bytesexpr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rendering of a selected byte range.
type Rendering uint8

// Renderings.
const (
	UTF8    Rendering = iota // the bytes as UTF-8 text
	Hex                      // two lowercase hex digits per byte
	Decimal                  // decimal value of each byte, concatenated
)

// Slice is one [i] or [a:b] selection.
type Slice struct {
	Lo, Hi       int
	HasLo, HasHi bool
	Index        bool // [i]: one byte
}

// Bounds resolves the selection against a payload of n bytes; ok is false
// for an index out of range.
func (s Slice) Bounds(n int) (lo, hi int, ok bool) {
	if s.Index {
		i := s.Lo
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return 0, 0, false
		}
		return i, i + 1, true
	}
	lo, hi = 0, n
	if s.HasLo {
		lo = clamp(s.Lo, n)
	}
	if s.HasHi {
		hi = clamp(s.Hi, n)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi, true
}

func clamp(i, n int) int {
	if i < 0 {
		i += n
		if i < 0 {
			return 0
		}
	}
	if i > n {
		return n
	}
	return i
}

// Select returns the selected bytes of p.
func (s Slice) Select(p []byte) ([]byte, bool) {
	lo, hi, ok := s.Bounds(len(p))
	if !ok {
		return nil, false
	}
	return p[lo:hi], true
}

// ParseSlice parses "[i]" or "[a:b]" (brackets included).
func ParseSlice(s string) (Slice, error) {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return Slice{}, fmt.Errorf("byte slice %q: want [i] or [from:to]", s)
	}
	body := s[1 : len(s)-1]
	lo, hi, isSlice := strings.Cut(body, ":")
	var sl Slice
	var err error
	if !isSlice {
		sl.Index = true
		if sl.Lo, err = strconv.Atoi(body); err != nil {
			return Slice{}, fmt.Errorf("byte slice %q: bad index", s)
		}
		sl.HasLo = true
		return sl, nil
	}
	if strings.Contains(hi, ":") {
		return Slice{}, fmt.Errorf("byte slice %q: steps are not supported", s)
	}
	if lo != "" {
		if sl.Lo, err = strconv.Atoi(lo); err != nil {
			return Slice{}, fmt.Errorf("byte slice %q: bad start", s)
		}
		sl.HasLo = true
	}
	if hi != "" {
		if sl.Hi, err = strconv.Atoi(hi); err != nil {
			return Slice{}, fmt.Errorf("byte slice %q: bad end", s)
		}
		sl.HasHi = true
	}
	return sl, nil
}

// Template is a compiled byte-slice template. It is immutable.
type Template struct {
	src    string
	parts  []part
	slices int
}

type part struct {
	lit   string
	slice Slice
	isSl  bool
}

// Compile parses s. A bracket group is a selection when its body is made
// of digits, '-' and at most one ':' ("[0:4]", "[:]", "[-2:]"); any other
// text, brackets included, is literal.
func Compile(s string) (*Template, error) {
	t := &Template{src: s}
	lit := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '[' {
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '-' || s[j] == ':') {
			j++
		}
		if j >= len(s) || s[j] != ']' || j == i+1 {
			continue
		}
		sl, err := ParseSlice(s[i : j+1])
		if err != nil {
			return nil, err
		}
		if i > lit {
			t.parts = append(t.parts, part{lit: s[lit:i]})
		}
		t.parts = append(t.parts, part{slice: sl, isSl: true})
		t.slices++
		lit = j + 1
		i = j
	}
	if lit < len(s) {
		t.parts = append(t.parts, part{lit: s[lit:]})
	}
	return t, nil
}

// String returns the source text.
func (t *Template) String() string { return t.src }

// Slices returns the template's selections in order.
func (t *Template) Slices() []Slice {
	var out []Slice
	for _, p := range t.parts {
		if p.isSl {
			out = append(out, p.slice)
		}
	}
	return out
}

// IsConst reports whether t selects no bytes.
func (t *Template) IsConst() bool { return t.slices == 0 }

// ErrRange is returned when an [i] index is outside the payload.
var ErrRange = errors.New("byte index out of range")

// Append renders t over payload p into dst.
func (t *Template) Append(dst, p []byte, r Rendering) ([]byte, error) {
	for i := range t.parts {
		pt := &t.parts[i]
		if !pt.isSl {
			dst = append(dst, pt.lit...)
			continue
		}
		b, ok := pt.slice.Select(p)
		if !ok {
			return dst, ErrRange
		}
		dst = AppendRendered(dst, b, r)
	}
	return dst, nil
}

// Render is Append into a new string.
func (t *Template) Render(p []byte, r Rendering) (string, error) {
	if t.slices == 0 {
		return t.src, nil
	}
	b, err := t.Append(make([]byte, 0, len(p)*2+len(t.src)), p, r)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

const hexDigits = "0123456789abcdef"

// AppendRendered appends b rendered as r.
func AppendRendered(dst, b []byte, r Rendering) []byte {
	switch r {
	case Hex:
		for _, c := range b {
			dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
		}
	case Decimal:
		for _, c := range b {
			dst = strconv.AppendUint(dst, uint64(c), 10)
		}
	default:
		for len(b) > 0 {
			r, n := utf8.DecodeRune(b)
			if r == utf8.RuneError && n <= 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, b[:n]...)
			}
			b = b[n:]
		}
	}
	return dst
}
