package jpath

import (
	"fmt"
	"strconv"
	"strings"
)

type stepKind uint8

const (
	stepKey      stepKind = iota // .name, ["name"]
	stepIndex                    // [n]
	stepSlice                    // [a:b], [:]
	stepWild                     // .*, [*]
	stepDesc                     // ..name
	stepDescWild                 // ..*
)

type step struct {
	kind   stepKind
	name   string
	lo, hi int
	hasLo  bool
	hasHi  bool
}

// Path is a compiled JSONPath expression (the subset upstream
// configurations use). It is immutable and safe for concurrent use.
type Path struct {
	src   string
	steps []step
}

// String returns the source text of the path.
func (p *Path) String() string { return p.src }

// Compile parses a JSONPath expression:
//
//	$                 the root (optional prefix)
//	name  .name       an object member; name is any run of characters
//	                  other than . [ ] and quotes, spaces included
//	"na.me"  'na.me'  a quoted member name (after a dot or at the start)
//	["na.me"]         the same in brackets
//	[n]               array element n; negative counts from the end
//	[a:b] [a:] [:b] [:]  array slice, Python semantics
//	[*]  .*  *        every member or element
//	..name  ..*       descendants (any depth) named name / all
//
// Evaluation returns the first match in document order.
func Compile(src string) (*Path, error) {
	p := &Path{src: src}
	s := strings.TrimSpace(src)
	i := 0
	if strings.HasPrefix(s, "$") {
		i = 1
	}
	first := true
	for i < len(s) {
		c := s[i]
		switch {
		case c == '.' && i+1 < len(s) && s[i+1] == '.':
			i += 2
			if i < len(s) && s[i] == '*' {
				p.steps = append(p.steps, step{kind: stepDescWild})
				i++
				break
			}
			name, n, err := readName(s, i)
			if err != nil {
				return nil, fmt.Errorf("jsonpath %q: %v", src, err)
			}
			p.steps = append(p.steps, step{kind: stepDesc, name: name})
			i = n
		case c == '.':
			i++
			if i < len(s) && s[i] == '*' {
				p.steps = append(p.steps, step{kind: stepWild})
				i++
				break
			}
			name, n, err := readName(s, i)
			if err != nil {
				return nil, fmt.Errorf("jsonpath %q: %v", src, err)
			}
			p.steps = append(p.steps, step{kind: stepKey, name: name})
			i = n
		case c == '[':
			st, n, err := readBracket(s, i)
			if err != nil {
				return nil, fmt.Errorf("jsonpath %q: %v", src, err)
			}
			p.steps = append(p.steps, st)
			i = n
		case first && c == '*':
			p.steps = append(p.steps, step{kind: stepWild})
			i++
		case first && !(i == 1 && s[0] == '$'):
			name, n, err := readName(s, i)
			if err != nil {
				return nil, fmt.Errorf("jsonpath %q: %v", src, err)
			}
			p.steps = append(p.steps, step{kind: stepKey, name: name})
			i = n
		default:
			return nil, fmt.Errorf("jsonpath %q: unexpected %q at %d", src, c, i)
		}
		first = false
	}
	return p, nil
}

// readName reads a member name at s[i:]: quoted, or up to the next
// . or [.
func readName(s string, i int) (string, int, error) {
	if i >= len(s) {
		return "", i, fmt.Errorf("missing name at end")
	}
	if s[i] == '"' || s[i] == '\'' {
		return readQuoted(s, i)
	}
	j := i
	for j < len(s) && s[j] != '.' && s[j] != '[' {
		if s[j] == ']' || s[j] == '"' || s[j] == '\'' {
			return "", j, fmt.Errorf("unexpected %q at %d", s[j], j)
		}
		j++
	}
	name := strings.TrimSpace(s[i:j])
	if name == "" {
		return "", j, fmt.Errorf("empty name at %d", i)
	}
	return name, j, nil
}

// readQuoted reads a quoted name; a backslash escapes the next character.
func readQuoted(s string, i int) (string, int, error) {
	q := s[i]
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 < len(s) {
				j++
				b.WriteByte(s[j])
			}
		case q:
			return b.String(), j + 1, nil
		default:
			b.WriteByte(s[j])
		}
	}
	return "", len(s), fmt.Errorf("unterminated quoted name at %d", i)
}

func readBracket(s string, i int) (step, int, error) {
	j := i + 1
	if j < len(s) && (s[j] == '"' || s[j] == '\'') {
		name, n, err := readQuoted(s, j)
		if err != nil {
			return step{}, n, err
		}
		if n >= len(s) || s[n] != ']' {
			return step{}, n, fmt.Errorf("missing ] at %d", n)
		}
		return step{kind: stepKey, name: name}, n + 1, nil
	}
	end := strings.IndexByte(s[j:], ']')
	if end < 0 {
		return step{}, len(s), fmt.Errorf("missing ] after %d", i)
	}
	body := strings.TrimSpace(s[j : j+end])
	next := j + end + 1
	if body == "*" {
		return step{kind: stepWild}, next, nil
	}
	if lo, hi, ok := strings.Cut(body, ":"); ok {
		st := step{kind: stepSlice}
		var err error
		if lo = strings.TrimSpace(lo); lo != "" {
			if st.lo, err = strconv.Atoi(lo); err != nil {
				return st, next, fmt.Errorf("bad slice start %q", lo)
			}
			st.hasLo = true
		}
		if hi = strings.TrimSpace(hi); hi != "" {
			if st.hi, err = strconv.Atoi(hi); err != nil {
				return st, next, fmt.Errorf("bad slice end %q", hi)
			}
			st.hasHi = true
		}
		return st, next, nil
	}
	n, err := strconv.Atoi(body)
	if err != nil {
		return step{}, next, fmt.Errorf("bad index %q", body)
	}
	return step{kind: stepIndex, lo: n}, next, nil
}

// Eval returns the first node matching p under n, or NoNode.
func (p *Path) Eval(d *Doc, n Node) Node {
	if !d.ok(n) {
		return NoNode
	}
	return p.eval(d, n, 0)
}

func (p *Path) eval(d *Doc, n Node, si int) Node {
	if si == len(p.steps) {
		return n
	}
	st := &p.steps[si]
	switch st.kind {
	case stepKey:
		if c := d.Get(n, st.name); c != NoNode {
			return p.eval(d, c, si+1)
		}
	case stepIndex:
		if c := d.Index(n, st.lo); c != NoNode {
			return p.eval(d, c, si+1)
		}
	case stepWild:
		return p.children(d, n, si+1, 0, 1<<30)
	case stepSlice:
		if d.Kind(n) != Array {
			return NoNode
		}
		ln := d.Len(n)
		lo, hi := 0, ln
		if st.hasLo {
			lo = clamp(st.lo, ln)
		}
		if st.hasHi {
			hi = clamp(st.hi, ln)
		}
		return p.children(d, n, si+1, lo, hi)
	case stepDesc, stepDescWild:
		return p.desc(d, n, si, 0)
	}
	return NoNode
}

func clamp(i, n int) int {
	if i < 0 {
		i += n
		if i < 0 {
			i = 0
		}
	}
	if i > n {
		i = n
	}
	return i
}

// children evaluates the rest of the path on the children of n with
// positions in [lo, hi).
func (p *Path) children(d *Doc, n Node, si, lo, hi int) Node {
	k := d.Kind(n)
	if k != Object && k != Array {
		return NoNode
	}
	pos := 0
	for j := d.first(n); j != NoNode && pos < hi; j = d.nextSibling(n, j) {
		if pos >= lo {
			c := j
			if k == Object {
				c = j + 1
			}
			if r := p.eval(d, c, si); r != NoNode {
				return r
			}
		}
		pos++
	}
	return NoNode
}

// desc matches step si against n and then all its descendants.
func (p *Path) desc(d *Doc, n Node, si, depth int) Node {
	st := &p.steps[si]
	if st.kind == stepDesc {
		if c := d.Get(n, st.name); c != NoNode {
			if r := p.eval(d, c, si+1); r != NoNode {
				return r
			}
		}
	} else if r := p.children(d, n, si+1, 0, 1<<30); r != NoNode {
		return r
	}
	if depth >= MaxDepth {
		return NoNode
	}
	k := d.Kind(n)
	if k != Object && k != Array {
		return NoNode
	}
	for j := d.first(n); j != NoNode; j = d.nextSibling(n, j) {
		c := j
		if k == Object {
			c = j + 1
		}
		if r := p.desc(d, c, si, depth+1); r != NoNode {
			return r
		}
	}
	return NoNode
}
