package convert

import (
	"strings"
	"sync"

	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// evalExpr is a value template evaluated as an expression ("useEval"):
// as upstream, the placeholders are substituted as text first and the
// result is evaluated, so "${a} + ${a}" adds numbers and "'${s}'" quotes a
// string. The expression language is package expr, not Python.
type evalExpr struct {
	t     *tmpl.Template
	mu    sync.Mutex
	cache map[string]*expr.Program // recent substituted texts
}

const evalCacheSize = 256

func compileEval(t *tmpl.Template) (*evalExpr, error) {
	// Check the syntax now, with every placeholder standing for 0.
	probe, _ := t.Render(tmpl.MissingEmpty, func(dst []byte, _ string) ([]byte, bool) {
		return append(dst, '0'), true
	})
	if _, err := expr.CompileVars(probe); err != nil {
		return nil, err
	}
	return &evalExpr{t: t, cache: map[string]*expr.Program{}}, nil
}

func (e *evalExpr) eval(d *jpath.Doc, root jpath.Node) (any, bool) {
	var buf [128]byte
	b, missing := e.t.Append(buf[:0], d, root, tmpl.MissingEmpty)
	if missing > 0 {
		return nil, false
	}
	src := string(b)
	e.mu.Lock()
	p := e.cache[src]
	e.mu.Unlock()
	if p == nil {
		var err error
		if p, err = expr.CompileVars(strings.TrimSpace(src)); err != nil {
			return nil, false
		}
		e.mu.Lock()
		if len(e.cache) >= evalCacheSize {
			clear(e.cache)
		}
		e.cache[src] = p
		e.mu.Unlock()
	}
	v, err := p.Run()
	if err != nil || v.Kind() == expr.NoneKind {
		return nil, false
	}
	return v.Go(), true
}
