package request

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// subReq is a compiled "subRequests" entry: for each response element, a
// GET of url (rendered over the element) whose answer is reduced by prog
// to the value of key, or merged into the element when there is no prog.
type subReq struct {
	key   string
	url   *tmpl.Template
	prog  *expr.Program
	paths []*jpath.Path // values of the variables after key and data
}

// processingFunction accepts the one shape upstream's Python functions
// take in practice:
//
//	def process_data(data, key): return {key: <expression>}
var processingFunction = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?s)^\s*def\s+\w+\s*\(\s*([A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)\s*\)\s*:\s*return\s*\{\s*([A-Za-z_]\w*)\s*:(.*)\}\s*$`)
})

func compileSubReq(key string, s subRequest) (*subReq, error) {
	r := &subReq{key: key}
	if s.URL == "" {
		return nil, fmt.Errorf("url: required")
	}
	var err error
	if r.url, err = tmpl.Compile(s.URL); err != nil {
		return nil, fmt.Errorf("url: %v", err)
	}
	switch {
	case s.ValueExpression != "":
		r.prog, r.paths, err = compileDataExpr(s.ValueExpression, "data", "key")
		if err != nil {
			return nil, fmt.Errorf("valueExpression: %v", err)
		}
	case s.ProcessingFunction != "":
		m := processingFunction().FindStringSubmatch(s.ProcessingFunction)
		if m == nil || m[3] != m[2] {
			return nil, fmt.Errorf("processingFunction: only the form `def process_data(data, key): return {key: <expression>}` is supported (an expression of tbgw's Python subset)")
		}
		r.prog, r.paths, err = compileDataExpr(strings.TrimSpace(m[4]), m[1], m[2])
		if err != nil {
			return nil, fmt.Errorf("processingFunction: %v", err)
		}
	}
	return r, nil
}

// compileDataExpr compiles src with variables keyName and dataName, where
// each subscript chain on dataName (data["values"][0]["avg"]) becomes a
// JSONPath resolved against the sub-response, since the expression
// language has no mappings.
func compileDataExpr(src, dataName, keyName string) (*expr.Program, []*jpath.Path, error) {
	var out strings.Builder
	var paths []*jpath.Path
	isIdent := func(c byte) bool {
		return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	var quote byte
	for i := 0; i < len(src); {
		c := src[i]
		if quote != 0 {
			out.WriteByte(c)
			if c == '\\' && i+1 < len(src) {
				out.WriteByte(src[i+1])
				i += 2
				continue
			}
			if c == quote {
				quote = 0
			}
			i++
			continue
		}
		if c == '"' || c == '\'' {
			quote = c
			out.WriteByte(c)
			i++
			continue
		}
		if !strings.HasPrefix(src[i:], dataName) || (i > 0 && isIdent(src[i-1])) ||
			(i+len(dataName) < len(src) && isIdent(src[i+len(dataName)])) {
			out.WriteByte(c)
			i++
			continue
		}
		j := i + len(dataName)
		var p strings.Builder
		p.WriteString("$")
		for {
			k := j
			for k < len(src) && src[k] == ' ' {
				k++
			}
			if k >= len(src) || src[k] != '[' {
				break
			}
			end := strings.IndexByte(src[k:], ']')
			if end < 0 {
				return nil, nil, fmt.Errorf("unclosed [ at column %d", k+1)
			}
			seg := strings.TrimSpace(src[k+1 : k+end])
			if len(seg) >= 2 && (seg[0] == '"' || seg[0] == '\'') && seg[len(seg)-1] == seg[0] {
				p.WriteString(`[` + strconv.Quote(seg[1:len(seg)-1]) + `]`)
			} else if n, err := strconv.Atoi(seg); err == nil {
				p.WriteString("[" + strconv.Itoa(n) + "]")
			} else {
				return nil, nil, fmt.Errorf("subscript %q of %s: want a quoted key or an integer", seg, dataName)
			}
			j = k + end + 1
		}
		if p.Len() == 1 {
			out.WriteString(dataName)
			i = j
			continue
		}
		jp, err := jpath.Compile(p.String())
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&out, "_d%d", len(paths))
		paths = append(paths, jp)
		i = j
	}
	vars := []string{keyName, dataName}
	for k := range paths {
		vars = append(vars, fmt.Sprintf("_d%d", k))
	}
	prog, err := expr.CompileVars(out.String(), vars...)
	if err != nil {
		return nil, nil, err
	}
	return prog, paths, nil
}

// apply reduces a sub-response to the members to merge into the element.
func (r *subReq) apply(body []byte) (map[string]any, error) {
	d, err := jpath.Parse(body)
	if err != nil {
		if r.prog == nil {
			return nil, fmt.Errorf("sub-request for %s: response is not JSON", r.key)
		}
		return r.eval(string(body), nil)
	}
	if r.prog == nil {
		if d.Kind(d.Root()) != jpath.Object {
			return map[string]any{r.key: d.Value(d.Root())}, nil
		}
		out := map[string]any{}
		d.Each(d.Root(), func(k []byte, v jpath.Node) bool {
			out[string(k)] = d.Value(v)
			return true
		})
		return out, nil
	}
	var root any
	switch v := d.Value(d.Root()); v.(type) {
	case json.RawMessage:
	default:
		root = v
	}
	return r.eval(root, d)
}

func (r *subReq) eval(root any, d *jpath.Doc) (map[string]any, error) {
	vals := make([]any, 2, 2+len(r.paths))
	vals[0], vals[1] = r.key, root
	for _, p := range r.paths {
		var v any
		if d != nil {
			if n := p.Eval(d, d.Root()); n != jpath.NoNode {
				if x := d.Value(n); x != nil {
					if _, obj := x.(json.RawMessage); !obj {
						v = x
					}
				}
			}
		}
		vals = append(vals, v)
	}
	v, err := r.prog.Eval(vals...)
	if err != nil {
		return nil, fmt.Errorf("sub-request for %s: %w", r.key, err)
	}
	return map[string]any{r.key: v}, nil
}
