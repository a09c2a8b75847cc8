package expr

import (
	"fmt"
	"math"
	"strings"
)

// AST.
type node interface{ pos() int }

type (
	litNode struct {
		p int
		v Value
	}
	nameNode struct {
		p  int
		id string
	}
	unaryNode struct {
		p  int
		op string // "-", "+", "~", "not"
		x  node
	}
	binNode struct {
		p    int
		op   string
		x, y node
	}
	cmpNode struct {
		p   int
		ops []string // "==", "<", "in", "not in", "is", "is not", ...
		xs  []node
	}
	condNode struct {
		p       int
		c, a, b node
	}
	callNode struct {
		p    int
		fn   string
		args []node
		kw   []kwArg // keyword arguments, after the positional ones
	}
	methodNode struct {
		p    int
		recv node
		name string
		args []node
	}
	indexNode struct {
		p    int
		x, i node
	}
	sliceNode struct {
		p         int
		x, lo, hi node // lo, hi may be nil
	}
	listNode struct {
		p    int
		elts []node
	}
	compNode struct {
		p          int
		elt        node
		v          string
		iter, cond node // cond may be nil
	}
)

func (n *litNode) pos() int    { return n.p }
func (n *nameNode) pos() int   { return n.p }
func (n *unaryNode) pos() int  { return n.p }
func (n *binNode) pos() int    { return n.p }
func (n *cmpNode) pos() int    { return n.p }
func (n *condNode) pos() int   { return n.p }
func (n *callNode) pos() int   { return n.p }
func (n *methodNode) pos() int { return n.p }
func (n *indexNode) pos() int  { return n.p }
func (n *sliceNode) pos() int  { return n.p }
func (n *listNode) pos() int   { return n.p }
func (n *compNode) pos() int   { return n.p }

// maxNesting bounds parser recursion.
const maxNesting = 200

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &Error{Src: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}

func (p *parser) isKw(s string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == s
}

func (p *parser) expect(s string) error {
	t := p.peek()
	if (t.kind == tOp || t.kind == tIdent) && t.text == s {
		p.next()
		return nil
	}
	return p.errf(t.pos, "expected %q, found %s", s, describe(t))
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tNum:
		return "number " + t.text
	case tStr:
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func parse(src string) (node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	n, err := p.ternary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t.pos, "unexpected %s", describe(t))
	}
	return n, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return p.errf(p.peek().pos, "expression nested too deeply")
	}
	return nil
}

func (p *parser) ternary() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	x, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	switch {
	case p.isKw("if"):
		pos := p.next().pos
		c, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expect("else"); err != nil {
			return nil, err
		}
		b, err := p.ternary()
		if err != nil {
			return nil, err
		}
		return &condNode{pos, c, x, b}, nil
	case p.isOp("?"):
		pos := p.next().pos
		a, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		b, err := p.ternary()
		if err != nil {
			return nil, err
		}
		return &condNode{pos, x, a, b}, nil
	}
	return x, nil
}

func (p *parser) orExpr() (node, error) {
	x, err := p.andExpr()
	for err == nil && (p.isKw("or") || p.isOp("||")) {
		pos := p.next().pos
		var y node
		if y, err = p.andExpr(); err == nil {
			x = &binNode{pos, "or", x, y}
		}
	}
	return x, err
}

func (p *parser) andExpr() (node, error) {
	x, err := p.notExpr()
	for err == nil && (p.isKw("and") || p.isOp("&&")) {
		pos := p.next().pos
		var y node
		if y, err = p.notExpr(); err == nil {
			x = &binNode{pos, "and", x, y}
		}
	}
	return x, err
}

func (p *parser) notExpr() (node, error) {
	if p.isKw("not") || p.isOp("!") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		pos := p.next().pos
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &unaryNode{pos, "not", x}, nil
	}
	return p.comparison()
}

func (p *parser) compOp() string {
	t := p.peek()
	if t.kind == tOp {
		switch t.text {
		case "==", "!=", "<", ">", "<=", ">=":
			return t.text
		}
		return ""
	}
	if t.kind != tIdent {
		return ""
	}
	switch t.text {
	case "in":
		return "in"
	case "is":
		if n := p.toks[p.i+1]; n.kind == tIdent && n.text == "not" {
			return "is not"
		}
		return "is"
	case "not":
		if n := p.toks[p.i+1]; n.kind == tIdent && n.text == "in" {
			return "not in"
		}
	}
	return ""
}

func (p *parser) comparison() (node, error) {
	x, err := p.bitOr()
	if err != nil {
		return nil, err
	}
	op := p.compOp()
	if op == "" {
		return x, nil
	}
	c := &cmpNode{p: p.peek().pos, xs: []node{x}}
	for ; op != ""; op = p.compOp() {
		p.next()
		if op == "is not" || op == "not in" {
			p.next()
		}
		y, err := p.bitOr()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.xs = append(c.xs, y)
	}
	return c, nil
}

// binary parses a left-associative level.
func (p *parser) binary(sub func() (node, error), ops ...string) (node, error) {
	x, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp {
			return x, nil
		}
		found := false
		for _, op := range ops {
			if t.text == op {
				found = true
				break
			}
		}
		if !found {
			return x, nil
		}
		p.next()
		y, err := sub()
		if err != nil {
			return nil, err
		}
		x = &binNode{t.pos, t.text, x, y}
	}
}

func (p *parser) bitOr() (node, error)  { return p.binary(p.bitXor, "|") }
func (p *parser) bitXor() (node, error) { return p.binary(p.bitAnd, "^") }
func (p *parser) bitAnd() (node, error) { return p.binary(p.shift, "&") }
func (p *parser) shift() (node, error)  { return p.binary(p.arith, "<<", ">>") }
func (p *parser) arith() (node, error)  { return p.binary(p.term, "+", "-") }
func (p *parser) term() (node, error)   { return p.binary(p.factor, "*", "/", "//", "%") }

func (p *parser) factor() (node, error) {
	if p.isOp("-") || p.isOp("+") || p.isOp("~") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		t := p.next()
		x, err := p.factor()
		if err != nil {
			return nil, err
		}
		// -9223372036854775808 is the one literal that needs the minus.
		if l, ok := x.(*litNode); ok && l.v.k == minIntLit {
			if t.text != "-" {
				return nil, p.errf(l.p, "integer literal does not fit 64 bits")
			}
			return &litNode{t.pos, Int(math.MinInt64)}, nil
		}
		return &unaryNode{t.pos, t.text, x}, nil
	}
	return p.power()
}

func (p *parser) power() (node, error) {
	x, err := p.postfix()
	if err != nil {
		return nil, err
	}
	if p.isOp("**") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		pos := p.next().pos
		y, err := p.factor() // right-associative, binds -x on its right
		if err != nil {
			return nil, err
		}
		return &binNode{pos, "**", x, y}, nil
	}
	return x, nil
}

func (p *parser) postfix() (node, error) {
	x, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("("):
			pos := p.peek().pos
			args, kw, err := p.callArgs()
			if err != nil {
				return nil, err
			}
			switch f := x.(type) {
			case *nameNode:
				x = &callNode{pos, f.id, args, kw}
			case *methodNode:
				if f.args != nil {
					return nil, p.errf(pos, "cannot call the result of a call")
				}
				if len(kw) > 0 {
					return nil, p.errf(pos, "methods take no keyword arguments")
				}
				f.args = args
			default:
				return nil, p.errf(pos, "only functions and methods can be called")
			}
		case p.isOp("["):
			pos := p.next().pos
			var lo, hi node
			if !p.isOp(":") {
				if lo, err = p.ternary(); err != nil {
					return nil, err
				}
			}
			if p.isOp(":") {
				p.next()
				if !p.isOp("]") {
					if hi, err = p.ternary(); err != nil {
						return nil, err
					}
				}
				if p.isOp(":") {
					return nil, p.errf(p.peek().pos, "slice steps are not supported")
				}
				x = &sliceNode{pos, x, lo, hi}
			} else {
				x = &indexNode{pos, x, lo}
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
		case p.isOp("."):
			pos := p.next().pos
			t := p.next()
			if t.kind != tIdent {
				return nil, p.errf(t.pos, "expected a name after '.'")
			}
			if n, ok := x.(*nameNode); ok && (n.id == "math" || n.id == "int" && t.text == "from_bytes") {
				x = &nameNode{n.p, n.id + "." + t.text}
				continue
			}
			if m, ok := x.(*methodNode); ok && m.args == nil {
				return nil, p.errf(pos, "method %s must be called", m.name)
			}
			if !p.isOp("(") {
				return nil, p.errf(t.pos, "attributes are not supported (only method calls such as .upper())")
			}
			x = &methodNode{pos, x, t.text, nil}
		default:
			if m, ok := x.(*methodNode); ok && m.args == nil {
				return nil, p.errf(m.p, "method %s must be called", m.name)
			}
			return x, nil
		}
	}
}

// kwArg is a keyword argument of a call: name=value.
type kwArg struct {
	p    int
	name string
	val  node
}

// callArgs parses "(a, b, name=c, ...)" after the opening bracket is
// current: positional arguments, then keyword arguments.
func (p *parser) callArgs() ([]node, []kwArg, error) {
	p.next()
	args := []node{}
	var kw []kwArg
	for !p.isOp(")") {
		if t := p.peek(); t.kind == tIdent && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "=" {
			p.next()
			p.next()
			v, err := p.ternary()
			if err != nil {
				return nil, nil, err
			}
			for _, k := range kw {
				if k.name == t.text {
					return nil, nil, p.errf(t.pos, "keyword argument %s repeated", t.text)
				}
			}
			kw = append(kw, kwArg{t.pos, t.text, v})
		} else {
			if len(kw) > 0 {
				return nil, nil, p.errf(t.pos, "positional argument follows keyword argument")
			}
			a, err := p.ternary()
			if err != nil {
				return nil, nil, err
			}
			args = append(args, a)
		}
		if p.isOp(",") {
			p.next()
			continue
		}
		if !p.isOp(")") {
			return nil, nil, p.errf(p.peek().pos, "expected ',' or \")\", found %s", describe(p.peek()))
		}
	}
	p.next()
	return args, kw, nil
}

// args parses "(a, b, ...)" after the opening bracket is current.
func (p *parser) args(closer string) ([]node, error) {
	p.next()
	args := []node{}
	for !p.isOp(closer) {
		a, err := p.ternary()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if p.isOp(",") {
			p.next()
			continue
		}
		if !p.isOp(closer) {
			return nil, p.errf(p.peek().pos, "expected ',' or %q, found %s", closer, describe(p.peek()))
		}
	}
	p.next()
	return args, nil
}

var reserved = map[string]bool{
	"lambda": true, "import": true, "def": true, "class": true, "yield": true, "await": true, "async": true,
	"del": true, "global": true, "nonlocal": true, "with": true, "as": true, "from": true, "return": true,
	"while": true, "try": true, "except": true, "raise": true, "assert": true, "pass": true, "break": true,
	"continue": true, "elif": true, "else": true, "for": true, "if": true, "in": true, "is": true,
	"and": true, "or": true, "not": true,
}

func (p *parser) atom() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t := p.next()
	switch t.kind {
	case tNum:
		return &litNode{t.pos, t.num}, nil
	case tStr:
		s := t.text
		for p.peek().kind == tStr { // implicit concatenation
			s += p.next().text
		}
		return &litNode{t.pos, Str(s)}, nil
	case tIdent:
		switch t.text {
		case "True", "true":
			return &litNode{t.pos, Bool(true)}, nil
		case "False", "false":
			return &litNode{t.pos, Bool(false)}, nil
		case "None", "null":
			return &litNode{t.pos, Value{}}, nil
		}
		if reserved[t.text] {
			return nil, p.errf(t.pos, "unexpected %q", t.text)
		}
		if strings.HasPrefix(t.text, "__") {
			return nil, p.errf(t.pos, "names starting with __ are not allowed")
		}
		return &nameNode{t.pos, t.text}, nil
	case tOp:
		switch t.text {
		case "(":
			x, err := p.ternary()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				return nil, p.errf(p.peek().pos, "tuples are not supported (use a list)")
			}
			return x, p.expect(")")
		case "[":
			if p.isOp("]") {
				p.next()
				return &listNode{t.pos, []node{}}, nil
			}
			first, err := p.ternary()
			if err != nil {
				return nil, err
			}
			if p.isKw("for") {
				return p.comprehension(t.pos, first)
			}
			elts := []node{first}
			for p.isOp(",") {
				p.next()
				if p.isOp("]") {
					break
				}
				e, err := p.ternary()
				if err != nil {
					return nil, err
				}
				elts = append(elts, e)
			}
			return &listNode{t.pos, elts}, p.expect("]")
		}
	}
	return nil, p.errf(t.pos, "unexpected %s", describe(t))
}

func (p *parser) comprehension(pos int, elt node) (node, error) {
	p.next() // for
	v := p.next()
	if v.kind != tIdent || reserved[v.text] || strings.HasPrefix(v.text, "__") {
		return nil, p.errf(v.pos, "expected a loop variable name")
	}
	if p.isOp(",") {
		return nil, p.errf(p.peek().pos, "only one loop variable is supported")
	}
	if err := p.expect("in"); err != nil {
		return nil, err
	}
	iter, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	c := &compNode{p: pos, elt: elt, v: v.text, iter: iter}
	if p.isKw("if") {
		p.next()
		if c.cond, err = p.orExpr(); err != nil {
			return nil, err
		}
	}
	if p.isKw("for") {
		return nil, p.errf(p.peek().pos, "nested comprehensions are not supported")
	}
	return c, p.expect("]")
}
