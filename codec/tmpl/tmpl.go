package tmpl

import (
	"fmt"
	"strings"

	"github.com/tbgw/tbgw/codec/jpath"
)

// Template is a compiled string with ${...} placeholders. It is immutable
// and safe for concurrent use.
type Template struct {
	src   string
	parts []part
	nvars int
}

type part struct {
	lit   string      // literal text (isVar false)
	expr  string      // placeholder text between ${ and } (isVar true)
	top   string      // first white-space separated token of expr
	path  *jpath.Path // expr as a JSONPath, nil if it is not one
	isVar bool
}

// Missing says what an unresolved placeholder renders as.
type Missing uint8

// Renderings of an unresolved placeholder.
const (
	MissingEmpty Missing = iota // nothing
	MissingNull                 // the text "null" (Request converter)
	MissingKeep                 // the placeholder itself, "${expr}" (device names)
)

// Compile parses s. A placeholder runs from "${" to the next "}"; an
// unterminated "${" is an error. A string without "${" is a constant.
func Compile(s string) (*Template, error) {
	t := &Template{src: s}
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+2:], '}')
		if j < 0 {
			return nil, fmt.Errorf("template %q: unterminated ${", s)
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		expr := rest[i+2 : i+2+j]
		p := part{expr: expr, isVar: true}
		if f := strings.Fields(expr); len(f) > 0 {
			p.top = f[0]
		}
		if p.top != "" {
			if path, err := jpath.Compile(expr); err == nil {
				p.path = path
			}
		}
		t.parts = append(t.parts, p)
		t.nvars++
		rest = rest[i+2+j+1:]
	}
	if rest != "" {
		t.parts = append(t.parts, part{lit: rest})
	}
	return t, nil
}

// MustCompile is Compile that panics on error, for constant templates.
func MustCompile(s string) *Template {
	t, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return t
}

// String returns the source text.
func (t *Template) String() string { return t.src }

// IsConst reports whether t has no placeholders.
func (t *Template) IsConst() bool { return t.nvars == 0 }

// Single reports whether t is exactly one placeholder with no literal
// text around it ("${temp}"): its value keeps its JSON type.
func (t *Template) Single() bool { return t.nvars == 1 && len(t.parts) == 1 }

// NumVars returns the number of placeholders.
func (t *Template) NumVars() int { return t.nvars }

// Vars returns the placeholder expressions in order.
func (t *Template) Vars() []string {
	out := make([]string, 0, t.nvars)
	for _, p := range t.parts {
		if p.isVar {
			out = append(out, p.expr)
		}
	}
	return out
}

// Lookup resolves the first placeholder of t against a JSON document the
// way upstream does: if root is an object holding the placeholder's first
// white-space separated word as a key, that member; otherwise the first
// match of the placeholder as a JSONPath. NoNode if unresolved.
func (t *Template) Lookup(d *jpath.Doc, root jpath.Node) jpath.Node {
	for i := range t.parts {
		if t.parts[i].isVar {
			return t.parts[i].lookup(d, root)
		}
	}
	return jpath.NoNode
}

func (p *part) lookup(d *jpath.Doc, root jpath.Node) jpath.Node {
	if p.top != "" {
		if n := d.Get(root, p.top); n != jpath.NoNode {
			return n
		}
	}
	if p.path != nil {
		return p.path.Eval(d, root)
	}
	return jpath.NoNode
}

// Append renders t against a JSON document, appending to dst. Values are
// written in text form (jpath.Doc.AppendText); a JSON null counts as
// missing. It returns the number of placeholders that were missing.
func (t *Template) Append(dst []byte, d *jpath.Doc, root jpath.Node, m Missing) ([]byte, int) {
	missing := 0
	for i := range t.parts {
		p := &t.parts[i]
		if !p.isVar {
			dst = append(dst, p.lit...)
			continue
		}
		n := p.lookup(d, root)
		if k := d.Kind(n); k == jpath.Invalid || k == jpath.Null {
			missing++
			dst = p.appendMissing(dst, m)
			continue
		}
		dst = d.AppendText(dst, n)
	}
	return dst, missing
}

func (p *part) appendMissing(dst []byte, m Missing) []byte {
	switch m {
	case MissingNull:
		return append(dst, "null"...)
	case MissingKeep:
		dst = append(dst, "${"...)
		dst = append(dst, p.expr...)
		return append(dst, '}')
	}
	return dst
}

// Expand renders t with a caller-supplied resolver: fn appends the value
// of placeholder expr to dst and reports whether it was found.
func (t *Template) Expand(dst []byte, m Missing, fn func(dst []byte, expr string) ([]byte, bool)) ([]byte, int) {
	missing := 0
	for i := range t.parts {
		p := &t.parts[i]
		if !p.isVar {
			dst = append(dst, p.lit...)
			continue
		}
		out, ok := fn(dst, p.expr)
		if !ok {
			missing++
			dst = p.appendMissing(dst, m)
			continue
		}
		dst = out
	}
	return dst, missing
}

// Render is Expand into a new string.
func (t *Template) Render(m Missing, fn func(dst []byte, expr string) ([]byte, bool)) (string, int) {
	if t.nvars == 0 {
		return t.src, 0
	}
	b, n := t.Expand(make([]byte, 0, len(t.src)+16), m, fn)
	return string(b), n
}
