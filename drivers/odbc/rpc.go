package odbc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

var errStopped = errors.New("odbc connector is not connected")

// OnRPC runs a configured method (a stored procedure with arguments, or a
// query), an unknown one when enableUnknownRpc allows it (params
// {"args": [...], "query": "..."}), or the reserved get/set with params
// "procedure_name=<p>;value=a,b;with_result=true;" or "query=<sql>;...".
// The reply is {"success": true}, or with "result": true (with_result) the
// first row returned as {"result": {column: value}}.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	c.mu.Lock()
	db := c.db
	c.mu.Unlock()
	if db == nil {
		return nil, errStopped
	}
	var m rpcMethod
	if req.Method == "get" || req.Method == "set" {
		s := ""
		if json.Unmarshal(req.Params, &s) != nil {
			return nil, fmt.Errorf(`params must be a string "procedure_name=<name>;value=a,b;with_result=true;" or "query=<sql>;..."`)
		}
		ps := rpcparams.Parse(s, "query")
		m.Name = ps.String("procedure_name", "")
		m.Query = ps.String("query", "")
		if m.Query != "" {
			// "query" takes the rest of the string; value/with_result may
			// still follow it.
			m.Query, m.Args, m.Result = splitQueryParams(m.Query)
		}
		if v, ok := ps.Get("value"); ok {
			for _, a := range strings.Split(v, ",") {
				m.Args = append(m.Args, a)
			}
		}
		if b, err := ps.Bool("with_result", m.Result); err == nil {
			m.Result = b
		}
		if m.Name == "" && m.Query == "" {
			return nil, fmt.Errorf("params need procedure_name=<name>; or query=<sql>;")
		}
	} else {
		conf, known := c.plan.methods[req.Method]
		var params map[string]any
		if len(req.Params) > 0 && string(req.Params) != "null" {
			if err := json.Unmarshal(req.Params, &params); err != nil && (!known || c.plan.overrideRPC) {
				return nil, fmt.Errorf(`params must be an object {"args": [...], "query": "..."}`)
			}
		}
		switch {
		case known:
			m = *conf
			if c.plan.overrideRPC {
				override(&m, params)
			}
		case c.plan.unknownRPC:
			m.Name = req.Method
			override(&m, params)
		default:
			return nil, fmt.Errorf("unknown RPC method %q (not in serverSideRpc.methods and enableUnknownRpc is false)", req.Method)
		}
	}
	return c.call(ctx, db, &m)
}

// splitQueryParams separates ";value=...;with_result=..." written after a
// reserved-RPC query.
func splitQueryParams(q string) (string, []any, bool) {
	var args []any
	res := false
	for {
		i := strings.LastIndex(q, ";")
		if i < 0 {
			break
		}
		tail := strings.TrimSpace(q[i+1:])
		k, v, ok := strings.Cut(tail, "=")
		switch {
		case tail == "":
		case ok && strings.TrimSpace(k) == "value":
			for _, a := range strings.Split(v, ",") {
				args = append(args, a)
			}
		case ok && strings.TrimSpace(k) == "with_result":
			res = strings.EqualFold(strings.TrimSpace(v), "true")
		default:
			return q, args, res
		}
		q = q[:i]
	}
	return q, args, res
}

// override merges RPC params into a method: args (or params), query,
// result.
func override(m *rpcMethod, params map[string]any) {
	if a, ok := params["args"].([]any); ok {
		m.Args = a
	} else if a, ok := params["params"].([]any); ok {
		m.Args = a
	}
	if q, ok := params["query"].(string); ok && q != "" {
		m.Query = q
	}
	if r, ok := params["result"].(bool); ok {
		m.Result = r
	}
}

// call runs a method and builds the reply.
func (c *Connector) call(ctx context.Context, db *sql.DB, m *rpcMethod) (any, error) {
	kind := c.plan.target.kind
	query := m.Query
	if query == "" {
		var err error
		if query, err = procQuery(kind, m.Name, len(m.Args)); err != nil {
			return nil, err
		}
	}
	q, n := rewritePlaceholders(query, kind)
	if n != len(m.Args) {
		return nil, fmt.Errorf("query has %d '?' markers but %d arguments were given", n, len(m.Args))
	}
	ctx, cancel := context.WithTimeout(ctx, c.plan.timeout)
	defer cancel()
	rows, err := db.QueryContext(ctx, q, m.Args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describe(m), err)
	}
	defer rows.Close()
	var result map[string]any
	if rows.Next() && m.Result {
		names, err := rows.Columns()
		if err != nil {
			return nil, err
		}
		types, _ := rows.ColumnTypes()
		raw := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		result = map[string]any{}
		for i, n := range names {
			kind := ""
			if i < len(types) {
				kind = strings.ToUpper(types[i].DatabaseTypeName())
			}
			result[n] = normalize(raw[i], kind)
		}
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", describe(m), err)
	}
	c.stats.Add("rpcs", 1)
	if m.Result {
		return map[string]any{"result": result}, nil
	}
	return map[string]any{"success": true}, nil
}

// procQuery is the statement that calls stored procedure name with n
// '?' arguments in the database's own form.
func procQuery(kind, name string, n int) (string, error) {
	if !validIdent(name) {
		return "", fmt.Errorf("invalid procedure name %q", name)
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", n), ",")
	switch kind {
	case "postgres":
		// What psqlODBC makes of {CALL f(...)}: functions are selected.
		return "SELECT * FROM " + name + "(" + marks + ")", nil
	case "sqlite":
		return "", fmt.Errorf("SQLite has no stored procedures: give the method a query")
	case "sqlserver":
		return strings.TrimSpace("EXEC " + name + " " + strings.ReplaceAll(marks, ",", ", ")), nil
	case "odbc":
		return "{CALL " + name + "(" + marks + ")}", nil
	}
	return "CALL " + name + "(" + marks + ")", nil
}

func describe(m *rpcMethod) string {
	if m.Query != "" {
		return "query " + abbrev(m.Query)
	}
	return "procedure " + m.Name
}

// validIdent accepts a (schema-qualified) SQL identifier.
func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
