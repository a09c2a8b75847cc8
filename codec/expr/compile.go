package expr

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
)

// evalFn evaluates a compiled node.
type evalFn func(f *frame) (Value, error)

type frame struct {
	slots []Value
}

// Program is a compiled expression. It is immutable and safe for
// concurrent use.
type Program struct {
	pool   sync.Pool // *frame
	src    string
	fn     evalFn
	vars   []string // free variables, slot order
	nslots int      // vars plus comprehension variables
}

// Compile compiles src. Every name that is not a function, a constant or a
// comprehension variable is a free variable; see [Program.Vars].
func Compile(src string) (*Program, error) { return CompileWith(src, Options{}) }

// CompileVars is Compile that accepts only the given variable names: any
// other name is a compile error.
func CompileVars(src string, names ...string) (*Program, error) {
	if names == nil {
		names = []string{}
	}
	return CompileWith(src, Options{Vars: names})
}

// Options restrict what an expression may use.
type Options struct {
	// Vars, when not nil, are the only variable names allowed, in slot
	// order.
	Vars []string
	// NoFuncs rejects function calls (upstream CAN "strictEval": Python
	// builtins disabled); operators and methods remain.
	NoFuncs bool
}

// CompileWith compiles src under o.
func CompileWith(src string, o Options) (*Program, error) {
	return compile(src, o.Vars, o.NoFuncs)
}

type compiler struct {
	src     string
	allowed map[string]bool // nil: any name
	vars    []string
	slots   map[string]int // free variables
	scope   []scopeVar     // comprehension variables, innermost last
	nslots  int
	noFuncs bool
}

type scopeVar struct {
	name string
	slot int
}

func compile(src string, allowed []string, noFuncs bool) (*Program, error) {
	n, err := parse(src)
	if err != nil {
		return nil, err
	}
	c := &compiler{src: src, slots: map[string]int{}, noFuncs: noFuncs}
	if allowed != nil {
		c.allowed = map[string]bool{}
		for _, a := range allowed {
			c.allowed[a] = true
		}
		// Allowed variables keep their order as slots.
		for _, a := range allowed {
			if _, ok := c.slots[a]; !ok {
				c.slots[a] = c.nslots
				c.vars = append(c.vars, a)
				c.nslots++
			}
		}
	}
	fn, err := c.node(n)
	if err != nil {
		return nil, err
	}
	p := &Program{src: src, fn: fn, vars: c.vars, nslots: c.nslots}
	p.pool.New = func() any { return &frame{slots: make([]Value, p.nslots)} }
	return p, nil
}

func (c *compiler) errf(n node, format string, args ...any) error {
	return &Error{Src: c.src, Pos: n.pos(), Msg: fmt.Sprintf(format, args...)}
}

// String returns the source.
func (p *Program) String() string { return p.src }

// Vars returns the variable names in slot order: for CompileVars the given
// names, for Compile the free names in order of first use.
func (p *Program) Vars() []string { return p.vars }

// Eval evaluates p with variable values given in Vars() order. Values
// may be Go values accepted by ValueOf or Values.
func (p *Program) Eval(vals ...any) (any, error) {
	v, err := p.EvalValues(vals...)
	if err != nil {
		return nil, err
	}
	return v.Go(), nil
}

// EvalValues is Eval returning a Value.
func (p *Program) EvalValues(vals ...any) (Value, error) {
	if len(vals) != len(p.vars) {
		return Value{}, fmt.Errorf("expression %q: %d values for %d variables", p.src, len(vals), len(p.vars))
	}
	f := p.pool.Get().(*frame)
	defer p.put(f)
	for i, x := range vals {
		v, err := ValueOf(x)
		if err != nil {
			return Value{}, fmt.Errorf("expression %q: variable %s: %w", p.src, p.vars[i], err)
		}
		f.slots[i] = v
	}
	return p.run(f)
}

// Run evaluates p with Values in Vars() order, without conversions.
func (p *Program) Run(vals ...Value) (Value, error) {
	if len(vals) != len(p.vars) {
		return Value{}, fmt.Errorf("expression %q: %d values for %d variables", p.src, len(vals), len(p.vars))
	}
	f := p.pool.Get().(*frame)
	defer p.put(f)
	copy(f.slots, vals)
	return p.run(f)
}

func (p *Program) run(f *frame) (Value, error) {
	v, err := p.fn(f)
	if err != nil {
		return Value{}, fmt.Errorf("expression %q: %w", p.src, err)
	}
	return v, nil
}

func (p *Program) put(f *frame) {
	clear(f.slots) // drop references to strings and lists
	p.pool.Put(f)
}

// EvalMap evaluates p with variables looked up by name; a missing name is
// None.
func (p *Program) EvalMap(m map[string]any) (any, error) {
	vals := make([]any, len(p.vars))
	for i, n := range p.vars {
		vals[i] = m[n]
	}
	return p.Eval(vals...)
}

func (c *compiler) node(n node) (evalFn, error) {
	switch n := n.(type) {
	case *litNode:
		if n.v.k == minIntLit {
			return nil, c.errf(n, "integer literal does not fit 64 bits")
		}
		v := n.v
		return func(*frame) (Value, error) { return v, nil }, nil
	case *nameNode:
		return c.name(n)
	case *unaryNode:
		return c.unary(n)
	case *binNode:
		return c.binary(n)
	case *cmpNode:
		return c.compare(n)
	case *condNode:
		cf, err := c.node(n.c)
		if err != nil {
			return nil, err
		}
		af, err := c.node(n.a)
		if err != nil {
			return nil, err
		}
		bf, err := c.node(n.b)
		if err != nil {
			return nil, err
		}
		return func(f *frame) (Value, error) {
			cv, err := cf(f)
			if err != nil {
				return cv, err
			}
			if cv.Truth() {
				return af(f)
			}
			return bf(f)
		}, nil
	case *callNode:
		return c.call(n)
	case *methodNode:
		return c.method(n)
	case *indexNode:
		xf, err := c.node(n.x)
		if err != nil {
			return nil, err
		}
		idf, err := c.node(n.i)
		if err != nil {
			return nil, err
		}
		return func(f *frame) (Value, error) {
			x, err := xf(f)
			if err != nil {
				return x, err
			}
			i, err := idf(f)
			if err != nil {
				return i, err
			}
			return index(x, i)
		}, nil
	case *sliceNode:
		return c.slice(n)
	case *listNode:
		fns, err := c.nodes(n.elts)
		if err != nil {
			return nil, err
		}
		return func(f *frame) (Value, error) {
			l := make([]Value, len(fns))
			for i, fn := range fns {
				v, err := fn(f)
				if err != nil {
					return v, err
				}
				l[i] = v
			}
			return List(l), nil
		}, nil
	case *compNode:
		return c.comprehension(n)
	}
	return nil, fmt.Errorf("expr: unknown node %T", n)
}

func (c *compiler) nodes(ns []node) ([]evalFn, error) {
	out := make([]evalFn, len(ns))
	for i, n := range ns {
		fn, err := c.node(n)
		if err != nil {
			return nil, err
		}
		out[i] = fn
	}
	return out, nil
}

var constants = map[string]Value{
	"math.pi":  Float(math.Pi),
	"math.e":   Float(math.E),
	"math.inf": Float(math.Inf(1)),
	"math.nan": Float(math.NaN()),
	"math.tau": Float(2 * math.Pi),
}

func (c *compiler) name(n *nameNode) (evalFn, error) {
	if v, ok := constants[n.id]; ok {
		return func(*frame) (Value, error) { return v, nil }, nil
	}
	for i := len(c.scope) - 1; i >= 0; i-- {
		if c.scope[i].name == n.id {
			slot := c.scope[i].slot
			return func(f *frame) (Value, error) { return f.slots[slot], nil }, nil
		}
	}
	if strings.HasPrefix(n.id, "math.") {
		return nil, c.errf(n, "unknown name %s", n.id)
	}
	if _, isFunc := builtins[n.id]; isFunc {
		return nil, c.errf(n, "function %s must be called", n.id)
	}
	slot, ok := c.slots[n.id]
	if !ok {
		if c.allowed != nil {
			return nil, c.errf(n, "unknown name %q (available: %s)", n.id, strings.Join(c.vars, ", "))
		}
		slot = c.nslots
		c.slots[n.id] = slot
		c.vars = append(c.vars, n.id)
		c.nslots++
	}
	return func(f *frame) (Value, error) { return f.slots[slot], nil }, nil
}

func (c *compiler) unary(n *unaryNode) (evalFn, error) {
	xf, err := c.node(n.x)
	if err != nil {
		return nil, err
	}
	op := n.op
	return func(f *frame) (Value, error) {
		x, err := xf(f)
		if err != nil {
			return x, err
		}
		switch op {
		case "not":
			return Bool(!x.Truth()), nil
		case "+":
			if !x.isNum() {
				return Value{}, fmt.Errorf("bad operand for unary +: %s", x.k)
			}
			if x.k == BoolKind {
				return Int(x.int()), nil
			}
			return x, nil
		case "-":
			return arith("-", Int(0), x)
		case "~":
			if !x.isInt() {
				return Value{}, fmt.Errorf("bad operand for ~: %s", x.k)
			}
			return Int(^x.int()), nil
		}
		return Value{}, errors.New("bad unary operator")
	}, nil
}

func (c *compiler) binary(n *binNode) (evalFn, error) {
	xf, err := c.node(n.x)
	if err != nil {
		return nil, err
	}
	yf, err := c.node(n.y)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "and":
		return func(f *frame) (Value, error) {
			x, err := xf(f)
			if err != nil || !x.Truth() {
				return x, err
			}
			return yf(f)
		}, nil
	case "or":
		return func(f *frame) (Value, error) {
			x, err := xf(f)
			if err != nil || x.Truth() {
				return x, err
			}
			return yf(f)
		}, nil
	}
	op := n.op
	return func(f *frame) (Value, error) {
		x, err := xf(f)
		if err != nil {
			return x, err
		}
		y, err := yf(f)
		if err != nil {
			return y, err
		}
		return arith(op, x, y)
	}, nil
}

func (c *compiler) compare(n *cmpNode) (evalFn, error) {
	fns, err := c.nodes(n.xs)
	if err != nil {
		return nil, err
	}
	ops := n.ops
	return func(f *frame) (Value, error) {
		x, err := fns[0](f)
		if err != nil {
			return x, err
		}
		for i, op := range ops {
			y, err := fns[i+1](f)
			if err != nil {
				return y, err
			}
			ok, err := compareOp(op, x, y)
			if err != nil || !ok {
				return Bool(false), err
			}
			x = y
		}
		return Bool(true), nil
	}, nil
}

func compareOp(op string, x, y Value) (bool, error) {
	switch op {
	case "==":
		return equal(x, y), nil
	case "!=":
		return !equal(x, y), nil
	case "is":
		return x.k == y.k && equal(x, y), nil
	case "is not":
		return !(x.k == y.k && equal(x, y)), nil
	case "in", "not in":
		in, err := contains(y, x)
		if op == "not in" {
			in = !in
		}
		return in, err
	}
	r, err := compare(x, y)
	if err != nil || r == 2 {
		return false, err
	}
	switch op {
	case "<":
		return r < 0, nil
	case "<=":
		return r <= 0, nil
	case ">":
		return r > 0, nil
	case ">=":
		return r >= 0, nil
	}
	return false, errors.New("bad comparison")
}

func contains(container, x Value) (bool, error) {
	switch container.k {
	case StrKind:
		if x.k != StrKind {
			return false, fmt.Errorf("'in <str>' requires a str, not %s", x.k)
		}
		return strings.Contains(container.s, x.s), nil
	case BytesKind:
		if x.isInt() {
			return strings.IndexByte(container.s, byte(x.int())) >= 0 && x.int() >= 0 && x.int() < 256, nil
		}
		if x.k == BytesKind {
			return strings.Contains(container.s, x.s), nil
		}
	case ListKind:
		for _, e := range container.list {
			if equal(e, x) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("argument of type %s is not iterable", container.k)
}

func (c *compiler) slice(n *sliceNode) (evalFn, error) {
	xf, err := c.node(n.x)
	if err != nil {
		return nil, err
	}
	var lof, hif evalFn
	if n.lo != nil {
		if lof, err = c.node(n.lo); err != nil {
			return nil, err
		}
	}
	if n.hi != nil {
		if hif, err = c.node(n.hi); err != nil {
			return nil, err
		}
	}
	return func(f *frame) (Value, error) {
		x, err := xf(f)
		if err != nil {
			return x, err
		}
		lo, hi := Value{}, Value{}
		if lof != nil {
			if lo, err = lof(f); err != nil {
				return lo, err
			}
		}
		if hif != nil {
			if hi, err = hif(f); err != nil {
				return hi, err
			}
		}
		return sliceValue(x, lo, hi)
	}, nil
}

func (c *compiler) comprehension(n *compNode) (evalFn, error) {
	iterf, err := c.node(n.iter)
	if err != nil {
		return nil, err
	}
	slot := c.nslots
	c.nslots++
	c.scope = append(c.scope, scopeVar{n.v, slot})
	defer func() { c.scope = c.scope[:len(c.scope)-1] }()
	eltf, err := c.node(n.elt)
	if err != nil {
		return nil, err
	}
	var condf evalFn
	if n.cond != nil {
		if condf, err = c.node(n.cond); err != nil {
			return nil, err
		}
	}
	return func(f *frame) (Value, error) {
		it, err := iterf(f)
		if err != nil {
			return it, err
		}
		items, err := iterate(it)
		if err != nil {
			return Value{}, err
		}
		out := make([]Value, 0, len(items))
		for _, item := range items {
			f.slots[slot] = item
			if condf != nil {
				cv, err := condf(f)
				if err != nil {
					return cv, err
				}
				if !cv.Truth() {
					continue
				}
			}
			v, err := eltf(f)
			if err != nil {
				return v, err
			}
			out = append(out, v)
		}
		return List(out), nil
	}, nil
}

// iterate returns the items of a list, the characters of a str or the
// byte values of bytes.
func iterate(v Value) ([]Value, error) {
	switch v.k {
	case ListKind:
		return v.list, nil
	case StrKind:
		var out []Value
		for _, r := range v.s {
			out = append(out, Str(string(r)))
		}
		return out, nil
	case BytesKind:
		out := make([]Value, len(v.s))
		for i := 0; i < len(v.s); i++ {
			out[i] = Int(int64(v.s[i]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not iterable", v.k)
}
