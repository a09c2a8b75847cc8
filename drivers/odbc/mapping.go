package odbc

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/tstamp"
)

// mapper turns rows into device data: the "mapping" block compiled.
type mapper struct {
	name, typ  *expr.Program
	typLit     string // device type given as a bare word that is no column
	attrs, ts  []item
	allAttrs   bool
	allTS      bool
	report     *codec.Strategy
	iterColumn string
}

type item struct {
	name     string
	nameExpr *expr.Program
	column   string
	value    *expr.Program
	report   *codec.Strategy
}

// columns is one result set's column list with the mapping bound to it.
type columns struct {
	names   []string
	idx     map[string]int
	kinds   []string // database type names (upper case)
	tsCol   int      // -1: none
	iterCol int      // -1: none
	slots   map[*expr.Program][]int
	typLit  string
	m       *mapper
}

// bind resolves the mapping's names against a result set.
func (m *mapper) bind(names, kinds []string) (*columns, error) {
	c := &columns{names: names, kinds: kinds, idx: map[string]int{}, tsCol: -1, iterCol: -1, slots: map[*expr.Program][]int{}, m: m}
	for i, n := range names {
		if _, dup := c.idx[n]; !dup {
			c.idx[n] = i
		}
		if strings.EqualFold(n, "ts") && c.tsCol < 0 {
			c.tsCol = i
		}
	}
	if m.iterColumn != "" {
		i, ok := c.idx[m.iterColumn]
		if !ok {
			for j, n := range names {
				if strings.EqualFold(n, m.iterColumn) {
					i, ok = j, true
					break
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("the query returns no iterator column %q (columns: %s)", m.iterColumn, strings.Join(names, ", "))
		}
		c.iterCol = i
	}
	progs := []*expr.Program{m.name}
	if m.typ != nil {
		vars := m.typ.Vars()
		if len(vars) == 1 && vars[0] == m.typ.String() {
			if _, isCol := c.idx[vars[0]]; !isCol {
				c.typLit = vars[0] // "type": "postgres" is a name, not a column
			}
		}
		if c.typLit == "" {
			progs = append(progs, m.typ)
		}
	} else {
		c.typLit = m.typLit
	}
	for _, list := range [][]item{m.attrs, m.ts} {
		for _, it := range list {
			progs = append(progs, it.nameExpr, it.value)
		}
	}
	for _, p := range progs {
		if p == nil {
			continue
		}
		s := make([]int, len(p.Vars()))
		for i, v := range p.Vars() {
			j, ok := c.idx[v]
			if !ok {
				j = -1
			}
			s[i] = j
		}
		c.slots[p] = s
	}
	for _, list := range [][]item{m.attrs, m.ts} {
		for _, it := range list {
			if it.column != "" {
				if _, ok := c.idx[it.column]; !ok {
					return nil, fmt.Errorf("the query returns no column %q (columns: %s)", it.column, strings.Join(names, ", "))
				}
			}
		}
	}
	return c, nil
}

// eval runs p over a row; a name that is no column is an error, as in
// Python.
func (c *columns) eval(p *expr.Program, row []expr.Value) (expr.Value, error) {
	s := c.slots[p]
	args := make([]expr.Value, len(s))
	for i, j := range s {
		if j < 0 {
			return expr.Value{}, fmt.Errorf("expression %q: name %q is no column of the query", p.String(), p.Vars()[i])
		}
		args[i] = row[j]
	}
	return p.Run(args...)
}

// normalize turns a scanned database value into a data-model value (nil,
// int64, float64, bool, string); kind is the column's database type name.
func normalize(v any, kind string) any {
	switch x := v.(type) {
	case nil, int64, float64, bool, string:
		return x
	case []byte:
		s := string(x)
		switch kind {
		case "NUMERIC", "DECIMAL", "NUMBER", "MONEY", "SMALLMONEY":
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return f
			}
		case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "INT2", "INT4", "INT8", "UNSIGNED BIGINT", "YEAR":
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		case "FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8":
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return f
			}
		case "BOOL", "BOOLEAN", "BIT":
			if s == "1" || s == "\x01" {
				return true
			}
			if s == "0" || s == "\x00" {
				return false
			}
		case "UNIQUEIDENTIFIER":
			if len(x) == 16 { // SQL Server's mixed-endian GUID
				return fmt.Sprintf("%X-%X-%X-%X-%X", []byte{x[3], x[2], x[1], x[0]}, []byte{x[5], x[4]}, []byte{x[7], x[6]}, x[8:10], x[10:])
			}
		}
		return s
	case time.Time:
		// Python's str(datetime).
		if x.Nanosecond() == 0 {
			return x.Format("2006-01-02 15:04:05")
		}
		return x.Format("2006-01-02 15:04:05.000000")
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	}
	return fmt.Sprint(v)
}

// pointValue converts an expression result to a datapoint value; ok is
// false for None.
func pointValue(v expr.Value) (any, bool) {
	switch g := v.Go().(type) {
	case nil:
		return nil, false
	case []byte:
		return string(g), true
	case []any:
		b, err := json.Marshal(g)
		if err != nil {
			return nil, false
		}
		return json.RawMessage(b), true
	default:
		return g, true
	}
}

// rowTS reads the row timestamp from the ts column: epoch (seconds or
// milliseconds by magnitude), a date/time, or a text timestamp.
func rowTS(raw any) int64 {
	switch x := raw.(type) {
	case time.Time:
		return x.UnixMilli()
	case int64:
		if ms, ok := tstamp.FromNumber(float64(x)); ok {
			return ms
		}
	case float64:
		if ms, ok := tstamp.FromNumber(x); ok {
			return ms
		}
	case []byte:
		if ms, err := tstamp.Parse(string(x), tstamp.Options{}); err == nil {
			return ms
		}
	case string:
		if ms, err := tstamp.Parse(x, tstamp.Options{}); err == nil {
			return ms
		}
	}
	return 0
}

// values normalises a row's scanned values and makes them expression
// values.
func (c *columns) values(raw []any) ([]any, []expr.Value, error) {
	vals := make([]any, len(raw))
	row := make([]expr.Value, len(raw))
	for i, r := range raw {
		vals[i] = normalize(r, c.kinds[i])
		var err error
		if row[i], err = expr.ValueOf(vals[i]); err != nil {
			return nil, nil, err
		}
	}
	return vals, row, nil
}

// device evaluates the device name and type of a row; a failing type
// expression is reported in typErr (the row still goes out), a failing
// name in err.
func (c *columns) device(row []expr.Value) (name, typ string, typErr, err error) {
	nv, err := c.eval(c.m.name, row)
	if err != nil {
		return "", "", nil, fmt.Errorf("device name: %w", err)
	}
	if nv.Kind() == expr.NoneKind {
		return "", "", nil, fmt.Errorf("device name %q is None", c.m.name.String())
	}
	name = nv.String()
	if name == "" {
		return "", "", nil, fmt.Errorf("device name %q is empty", c.m.name.String())
	}
	typ = c.typLit
	if c.typLit == "" && c.m.typ != nil {
		if tv, err := c.eval(c.m.typ, row); err == nil && tv.Kind() != expr.NoneKind {
			typ = tv.String()
		} else if err != nil {
			typErr = fmt.Errorf("device type: %w", err)
		}
	}
	return name, typ, typErr, nil
}

// convert maps one row (raw scanned values) to the device's data. Items
// that fail (an expression error, a None value) are left out and reported
// in skipped; a row without device name or values is an error.
func (c *columns) convert(raw []any) (d codec.Data, skipped []error, err error) {
	vals, row, err := c.values(raw)
	if err != nil {
		return d, nil, err
	}
	var typErr error
	if d.Device, d.Type, typErr, err = c.device(row); err != nil {
		return d, nil, err
	}
	if typErr != nil {
		skipped = append(skipped, typErr)
	}
	var ts int64
	if c.tsCol >= 0 {
		ts = rowTS(raw[c.tsCol])
	}
	all := func(skipTS bool) []codec.Point {
		var pts []codec.Point
		for i, n := range c.names {
			if vals[i] == nil || (skipTS && i == c.tsCol) {
				continue
			}
			pts = append(pts, codec.Point{Key: n, Value: vals[i], Report: c.m.report})
		}
		return pts
	}
	one := func(it *item) (codec.Point, error) {
		p := codec.Point{Key: it.name, Report: it.report}
		if it.nameExpr != nil {
			kv, err := c.eval(it.nameExpr, row)
			if err != nil {
				return p, err
			}
			p.Key = kv.String()
		}
		switch {
		case it.column != "":
			p.Value = vals[c.idx[it.column]]
		default:
			v, err := c.eval(it.value, row)
			if err != nil {
				return p, err
			}
			p.Value, _ = pointValue(v)
		}
		if p.Value == nil {
			return p, fmt.Errorf("%s: value is None", p.Key)
		}
		return p, nil
	}
	if c.m.allAttrs {
		d.Attributes = all(false)
	}
	for i := range c.m.attrs {
		p, err := one(&c.m.attrs[i])
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		d.Attributes = append(d.Attributes, p)
	}
	if c.m.allTS {
		d.Telemetry = all(true)
	}
	for i := range c.m.ts {
		p, err := one(&c.m.ts[i])
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		d.Telemetry = append(d.Telemetry, p)
	}
	for i := range d.Telemetry {
		d.Telemetry[i].TS = ts
	}
	if len(d.Attributes) == 0 && len(d.Telemetry) == 0 {
		if len(skipped) > 0 {
			return d, nil, fmt.Errorf("device %q: no values: %w", d.Device, skipped[0])
		}
		return d, nil, fmt.Errorf("device %q: no values", d.Device)
	}
	return d, skipped, nil
}
