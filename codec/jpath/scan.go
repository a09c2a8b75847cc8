package jpath

import (
	"errors"
	"fmt"
)

// Kind is the JSON type of a node.
type Kind uint8

// Node kinds.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	True
	False
	Null
	key // an object member's key; never returned by Doc methods
)

func (k Kind) String() string {
	switch k {
	case Object:
		return "object"
	case Array:
		return "array"
	case String:
		return "string"
	case Number:
		return "number"
	case True, False:
		return "boolean"
	case Null:
		return "null"
	}
	return "invalid"
}

// Node is the index of a value in a [Doc]. The zero Node is the root.
// A Node is only meaningful with the Doc that produced it and only until
// that Doc is reset.
type Node int32

// NoNode is returned by lookups that find nothing.
const NoNode Node = -1

// tok is one token of the flat index. Object members are stored as a key
// token followed by the value's tokens; next is the index just past this
// token's subtree, so siblings are reached without walking children.
type tok struct {
	kind   Kind
	escape bool // string or key contains a backslash escape
	start  int32
	end    int32
	next   int32
}

// Limits of the scanner. Payloads beyond them are rejected, not truncated.
const (
	MaxDepth = 256
	MaxSize  = 1 << 30
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid JSON")

// Doc is a parsed JSON document: the source bytes plus a flat token index.
// Parsing validates the syntax once; lookups afterwards never re-parse.
// A Doc may be reused with [Doc.Reset] to avoid allocating. It is not safe
// for concurrent use, and it keeps a reference to the source slice: the
// caller must not modify the source while the Doc is in use.
type Doc struct {
	src  []byte
	toks []tok

	hintObj, hintNext Node // where the next Get on hintObj starts
}

// Parse indexes src. The returned Doc references src.
func Parse(src []byte) (*Doc, error) {
	d := &Doc{}
	if err := d.Reset(src); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset re-indexes the Doc with a new source, reusing its memory.
func (d *Doc) Reset(src []byte) error {
	d.src = src
	d.toks = d.toks[:0]
	d.hintObj, d.hintNext = NoNode, NoNode
	if len(src) > MaxSize {
		return fmt.Errorf("%w: document larger than %d bytes", ErrSyntax, MaxSize)
	}
	s := scanner{d: d, src: src}
	i := s.space(0)
	i, err := s.value(i, 0)
	if err == nil {
		if i = s.space(i); i != len(src) {
			err = s.errf(i, "data after the top-level value")
		}
	}
	if err != nil {
		d.toks = d.toks[:0]
		return err
	}
	return nil
}

// Src returns the source the Doc indexes.
func (d *Doc) Src() []byte { return d.src }

type scanner struct {
	d   *Doc
	src []byte
}

func (s *scanner) errf(off int, format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrSyntax, off, fmt.Sprintf(format, args...))
}

func (s *scanner) space(i int) int {
	for i < len(s.src) {
		switch s.src[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) push(k Kind, start int) int {
	s.d.toks = append(s.d.toks, tok{kind: k, start: int32(start)})
	return len(s.d.toks) - 1
}

func (s *scanner) close(t, end int) {
	tk := &s.d.toks[t]
	tk.end = int32(end)
	tk.next = int32(len(s.d.toks))
}

// value scans the value at i (i points at a non-space byte) and returns
// the offset just past it.
func (s *scanner) value(i, depth int) (int, error) {
	if i >= len(s.src) {
		return i, s.errf(i, "unexpected end of input")
	}
	switch c := s.src[i]; c {
	case '{':
		if depth >= MaxDepth {
			return i, s.errf(i, "nesting deeper than %d", MaxDepth)
		}
		t := s.push(Object, i)
		i = s.space(i + 1)
		if i < len(s.src) && s.src[i] == '}' {
			s.close(t, i+1)
			return i + 1, nil
		}
		for {
			if i >= len(s.src) || s.src[i] != '"' {
				return i, s.errf(i, "expected object key")
			}
			k := s.push(key, i)
			end, esc, err := s.str(i)
			if err != nil {
				return end, err
			}
			s.d.toks[k].escape = esc
			s.close(k, end)
			i = s.space(end)
			if i >= len(s.src) || s.src[i] != ':' {
				return i, s.errf(i, "expected ':' after object key")
			}
			i = s.space(i + 1)
			if i, err = s.value(i, depth+1); err != nil {
				return i, err
			}
			i = s.space(i)
			if i >= len(s.src) {
				return i, s.errf(i, "unexpected end of input in object")
			}
			if s.src[i] == '}' {
				s.close(t, i+1)
				return i + 1, nil
			}
			if s.src[i] != ',' {
				return i, s.errf(i, "expected ',' or '}' in object")
			}
			i = s.space(i + 1)
		}
	case '[':
		if depth >= MaxDepth {
			return i, s.errf(i, "nesting deeper than %d", MaxDepth)
		}
		t := s.push(Array, i)
		i = s.space(i + 1)
		if i < len(s.src) && s.src[i] == ']' {
			s.close(t, i+1)
			return i + 1, nil
		}
		for {
			var err error
			if i, err = s.value(i, depth+1); err != nil {
				return i, err
			}
			i = s.space(i)
			if i >= len(s.src) {
				return i, s.errf(i, "unexpected end of input in array")
			}
			if s.src[i] == ']' {
				s.close(t, i+1)
				return i + 1, nil
			}
			if s.src[i] != ',' {
				return i, s.errf(i, "expected ',' or ']' in array")
			}
			i = s.space(i + 1)
		}
	case '"':
		t := s.push(String, i)
		end, esc, err := s.str(i)
		if err != nil {
			return end, err
		}
		s.d.toks[t].escape = esc
		s.close(t, end)
		return end, nil
	case 't':
		return s.literal(i, "true", True)
	case 'f':
		return s.literal(i, "false", False)
	case 'n':
		return s.literal(i, "null", Null)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			end, err := s.number(i)
			if err != nil {
				return end, err
			}
			t := s.push(Number, i)
			s.close(t, end)
			return end, nil
		}
		return i, s.errf(i, "unexpected character %q", c)
	}
}

func (s *scanner) literal(i int, lit string, k Kind) (int, error) {
	if len(s.src)-i < len(lit) || string(s.src[i:i+len(lit)]) != lit {
		return i, s.errf(i, "invalid literal")
	}
	t := s.push(k, i)
	s.close(t, i+len(lit))
	return i + len(lit), nil
}

// str scans a string starting at the opening quote and returns the offset
// past the closing quote and whether it contains escapes.
func (s *scanner) str(i int) (int, bool, error) {
	esc := false
	for j := i + 1; j < len(s.src); j++ {
		c := s.src[j]
		switch {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(s.src) {
				return j, esc, s.errf(j, "unterminated string")
			}
			switch s.src[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.src) || !isHex4(s.src[j+1:j+5]) {
					return j, esc, s.errf(j, "invalid \\u escape")
				}
				j += 4
			default:
				return j, esc, s.errf(j, "invalid escape")
			}
		case c < 0x20:
			return j, esc, s.errf(j, "control character in string")
		}
	}
	return len(s.src), esc, s.errf(len(s.src), "unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) number(i int) (int, error) {
	start := i
	if s.src[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s.src) && s.src[i] >= '0' && s.src[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s.src) && s.src[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, s.errf(start, "invalid number")
	}
	if i < len(s.src) && s.src[i] == '.' {
		i++
		if digits() == 0 {
			return i, s.errf(start, "invalid number")
		}
	}
	if i < len(s.src) && (s.src[i] == 'e' || s.src[i] == 'E') {
		i++
		if i < len(s.src) && (s.src[i] == '+' || s.src[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, s.errf(start, "invalid number")
		}
	}
	return i, nil
}
