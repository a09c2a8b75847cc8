package jpath

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Root returns the root node, or NoNode if the Doc holds no document.
func (d *Doc) Root() Node {
	if len(d.toks) == 0 {
		return NoNode
	}
	return 0
}

func (d *Doc) ok(n Node) bool { return n >= 0 && int(n) < len(d.toks) }

// Kind returns the JSON type of n (Invalid for NoNode).
func (d *Doc) Kind(n Node) Kind {
	if !d.ok(n) {
		return Invalid
	}
	return d.toks[n].kind
}

// Raw returns the source bytes of n, e.g. `"a\n"` with quotes and escapes,
// `12.50` or `{"a": 1}` as written.
func (d *Doc) Raw(n Node) []byte {
	if !d.ok(n) {
		return nil
	}
	t := d.toks[n]
	return d.src[t.start:t.end:t.end]
}

// Len returns the number of members of an object or elements of an array.
func (d *Doc) Len(n Node) int {
	if k := d.Kind(n); k != Object && k != Array {
		return 0
	}
	c := 0
	for j := d.first(n); j != NoNode; j = d.nextSibling(n, j) {
		c++
	}
	return c
}

// first returns the first child of a container: for objects, the first
// member's key token.
func (d *Doc) first(n Node) Node {
	if int(n)+1 >= int(d.toks[n].next) {
		return NoNode
	}
	return n + 1
}

// nextSibling advances j (an element of array n, or a key of object n).
func (d *Doc) nextSibling(n, j Node) Node {
	nx := d.toks[j].next
	if d.toks[n].kind == Object {
		nx = d.toks[nx].next // skip the member's value
	}
	if nx >= d.toks[n].next {
		return NoNode
	}
	return Node(nx)
}

// Get returns the member key of object n, or NoNode.
//
// Lookups of an object's members in document order are linear overall:
// each search starts after the member the previous one found, wrapping
// around.
func (d *Doc) Get(n Node, name string) Node {
	if d.Kind(n) != Object {
		return NoNode
	}
	start := d.first(n)
	if start == NoNode {
		return NoNode
	}
	if d.hintObj == n && d.hintNext != NoNode {
		start = d.hintNext
	}
	j := start
	for {
		if d.keyIs(j, name) {
			d.hintObj, d.hintNext = n, d.nextSibling(n, j)
			return j + 1
		}
		if j = d.nextSibling(n, j); j == NoNode {
			j = d.first(n)
		}
		if j == start {
			return NoNode
		}
	}
}

// keyIs compares the key token j with name.
func (d *Doc) keyIs(j Node, name string) bool {
	t := &d.toks[j]
	if !t.escape {
		return int(t.end-t.start-2) == len(name) && string(d.src[t.start+1:t.end-1]) == name
	}
	raw := d.src[t.start+1 : t.end-1]
	var buf [64]byte
	return string(appendUnquoted(buf[:0], raw)) == name
}

// Index returns element i of array n (negative i counts from the end), or
// NoNode.
func (d *Doc) Index(n Node, i int) Node {
	if d.Kind(n) != Array {
		return NoNode
	}
	if i < 0 {
		i += d.Len(n)
		if i < 0 {
			return NoNode
		}
	}
	for j := d.first(n); j != NoNode; j = d.nextSibling(n, j) {
		if i == 0 {
			return j
		}
		i--
	}
	return NoNode
}

// Each calls fn for every member of object n (with its unescaped key) or
// element of array n (with an empty key) until fn returns false.
func (d *Doc) Each(n Node, fn func(key []byte, v Node) bool) {
	k := d.Kind(n)
	if k != Object && k != Array {
		return
	}
	var buf []byte
	for j := d.first(n); j != NoNode; j = d.nextSibling(n, j) {
		if k == Array {
			if !fn(nil, j) {
				return
			}
			continue
		}
		t := d.toks[j]
		raw := d.src[t.start+1 : t.end-1 : t.end-1]
		if t.escape {
			buf = appendUnquoted(buf[:0], raw)
			raw = buf
		}
		if !fn(raw, j+1) {
			return
		}
	}
}

// Str returns the unescaped text of a string node ("" for other kinds).
func (d *Doc) Str(n Node) string {
	if d.Kind(n) != String {
		return ""
	}
	t := d.toks[n]
	raw := d.src[t.start+1 : t.end-1]
	if !t.escape {
		return string(raw)
	}
	return string(appendUnquoted(nil, raw))
}

// StrBytes is Str without the copy when the string has no escapes: the
// result aliases the source and must not be retained or modified.
func (d *Doc) StrBytes(n Node, scratch []byte) []byte {
	if d.Kind(n) != String {
		return nil
	}
	t := d.toks[n]
	raw := d.src[t.start+1 : t.end-1 : t.end-1]
	if !t.escape {
		return raw
	}
	return appendUnquoted(scratch[:0], raw)
}

// Int returns a number node as int64: exact for integer literals, truncated
// toward zero for others. ok is false for non-numbers and out-of-range values.
func (d *Doc) Int(n Node) (int64, bool) {
	if d.Kind(n) != Number {
		return 0, false
	}
	raw := d.Raw(n)
	if v, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return 0, false
	}
	return int64(f), true
}

// Float returns a number node as float64.
func (d *Doc) Float(n Node) (float64, bool) {
	if d.Kind(n) != Number {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(d.Raw(n)), 64)
	if err != nil {
		return f, false // ±Inf on overflow
	}
	return f, true
}

// IsInt reports whether a number node is written as an integer that fits
// an int64 (no fraction, no exponent).
func (d *Doc) IsInt(n Node) bool {
	if d.Kind(n) != Number {
		return false
	}
	raw := d.Raw(n)
	if bytes.IndexAny(raw, ".eE") >= 0 {
		return false
	}
	_, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil
}

// Value decodes n into a data-model value: int64 for integer literals,
// float64 for other numbers, bool, string, json.RawMessage (compact) for
// objects and arrays, and nil for null or NoNode.
func (d *Doc) Value(n Node) any {
	switch d.Kind(n) {
	case Number:
		if d.IsInt(n) {
			v, _ := d.Int(n)
			return v
		}
		f, _ := d.Float(n)
		return f
	case String:
		return d.Str(n)
	case True:
		return true
	case False:
		return false
	case Object, Array:
		return json.RawMessage(d.AppendCompact(nil, n))
	}
	return nil
}

// AppendText appends the text form of n: strings unescaped without quotes,
// numbers as written, true/false, null as "null", objects and arrays as
// compact JSON.
func (d *Doc) AppendText(dst []byte, n Node) []byte {
	switch d.Kind(n) {
	case String:
		t := d.toks[n]
		raw := d.src[t.start+1 : t.end-1]
		if !t.escape {
			return append(dst, raw...)
		}
		return appendUnquoted(dst, raw)
	case Object, Array:
		return d.AppendCompact(dst, n)
	case Invalid:
		return dst
	}
	return append(dst, d.Raw(n)...)
}

// AppendCompact appends the JSON text of n without insignificant white
// space.
func (d *Doc) AppendCompact(dst []byte, n Node) []byte {
	raw := d.Raw(n)
	if d.Kind(n) == String || !hasSpace(raw) {
		return append(dst, raw...)
	}
	inStr := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inStr {
			dst = append(dst, c)
			if c == '\\' && i+1 < len(raw) {
				i++
				dst = append(dst, raw[i])
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inStr = true
		}
		dst = append(dst, c)
	}
	return dst
}

func hasSpace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			return true
		}
	}
	return false
}

// appendUnquoted decodes the body of a JSON string (validated by the
// scanner) into dst.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+4 >= len(s) {
				return dst
			}
			r := rune(hex4(s[i+1 : i+5]))
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				r2 := rune(hex4(s[i+3 : i+7]))
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b[:4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= int(c-'A') + 10
		}
	}
	return v
}
