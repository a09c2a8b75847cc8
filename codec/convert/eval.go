package convert

import (
	"errors"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// evalExpr is a value template evaluated as an expression (useEval).
type evalExpr struct{}

func compileEval(t *tmpl.Template) (*evalExpr, error) {
	return nil, errors.New("useEval is not supported yet")
}

func (e *evalExpr) eval(d *jpath.Doc, root jpath.Node) (any, bool) { return nil, false }
