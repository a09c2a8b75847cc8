package ftp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/codec/tstamp"
	"github.com/tbgw/tbgw/codec/value"
)

// rowSpec is the compiled mapping of one path for CSV and TXT lines: in the
// TABLE view the first line of a file names the columns and values are
// ${Header} templates; in the SLICED view values are field slices [a:b] of
// the line split by the delimiter.
type rowSpec struct {
	sliced    bool
	delim     string
	name, typ cell
	attrs, ts []column
	rowTS     *cell // value of a timeseries entry keyed "ts" or "timestamp"
	tsOpt     tstamp.Options
}

type column struct {
	key, val cell
	typ      value.Type
	report   *codec.Strategy
	tsField  *cell // TABLE: the column holding this datapoint's timestamp
	tsOpt    tstamp.Options
}

// cell is a key, value or device-name expression: a constant, a template
// over the header names (TABLE) or a field slice (SLICED).
type cell struct {
	lit   string
	t     *tmpl.Template
	slice *fieldSlice
}

// fieldSlice is a Python slice [lo:hi] or index [i] over the fields of a
// line; negative bounds count from the end.
type fieldSlice struct {
	lo, hi       int
	hasLo, hasHi bool
	index        bool
}

// parseSlice reads "[i]", "[a:b]", "[a:]", "[:b]" or "[:]"; ok is false
// when s is not of that form.
func parseSlice(s string) (fieldSlice, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return fieldSlice{}, false
	}
	in := s[1 : len(s)-1]
	a, b, colon := strings.Cut(in, ":")
	var f fieldSlice
	num := func(x string) (int, bool, bool) {
		x = strings.TrimSpace(x)
		if x == "" {
			return 0, false, true
		}
		n, err := strconv.Atoi(x)
		if err != nil || n > 1<<20 || n < -(1<<20) {
			return 0, false, false
		}
		return n, true, true
	}
	var ok bool
	if f.lo, f.hasLo, ok = num(a); !ok {
		return fieldSlice{}, false
	}
	if !colon {
		if !f.hasLo {
			return fieldSlice{}, false
		}
		f.index = true
		return f, true
	}
	if f.hi, f.hasHi, ok = num(b); !ok {
		return fieldSlice{}, false
	}
	return f, true
}

// apply returns the selected fields joined by delim, and false when an
// index is out of range or the slice is empty.
func (f *fieldSlice) apply(fields []string, delim string) (string, bool) {
	n := len(fields)
	norm := func(i int) int {
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
	if f.index {
		i := f.lo
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return "", false
		}
		return fields[i], true
	}
	lo, hi := 0, n
	if f.hasLo {
		lo = norm(f.lo)
	}
	if f.hasHi {
		hi = norm(f.hi)
	}
	if lo >= hi {
		return "", false
	}
	return strings.Join(fields[lo:hi], delim), true
}

func compileCell(s string, sliced bool) (cell, error) {
	if sliced {
		if f, ok := parseSlice(s); ok {
			return cell{slice: &f}, nil
		}
		return cell{lit: s}, nil
	}
	t, err := tmpl.Compile(s)
	if err != nil {
		return cell{}, err
	}
	if t.IsConst() {
		return cell{lit: s}, nil
	}
	return cell{t: t}, nil
}

func (c *cell) isConst() bool { return c.t == nil && c.slice == nil }

// row is one line split into fields, with the file's header.
type row struct {
	fields []string
	hdr    *header
	delim  string
}

// header maps column names (the TABLE view's first line) to indexes.
type header struct {
	names []string
	idx   map[string]int
}

func newHeader(line, delim string) *header {
	h := &header{names: splitFields(line, delim), idx: map[string]int{}}
	for i, n := range h.names {
		n = strings.TrimSpace(n)
		if _, dup := h.idx[n]; !dup {
			h.idx[n] = i
		}
	}
	return h
}

func splitFields(line, delim string) []string {
	if delim == "" {
		return []string{line}
	}
	return strings.Split(line, delim)
}

// eval resolves c against r; ok is false when a header or field is
// missing.
func (c *cell) eval(r *row) (string, bool) {
	switch {
	case c.slice != nil:
		return c.slice.apply(r.fields, r.delim)
	case c.t != nil:
		s, missing := c.t.Render(tmpl.MissingKeep, func(dst []byte, expr string) ([]byte, bool) {
			if r.hdr == nil {
				return dst, false
			}
			i, ok := r.hdr.idx[strings.TrimSpace(expr)]
			if !ok || i >= len(r.fields) {
				return dst, false
			}
			return append(dst, r.fields[i]...), true
		})
		return s, missing == 0
	}
	return c.lit, true
}

// lineError describes why a line produced no data.
type lineError struct{ msg string }

func (e *lineError) Error() string { return e.msg }

// convert turns one line into the device's data. Datapoints whose column
// is missing from the line are left out; a line yielding none is an error.
// nowMs stamps telemetry without a timestamp column (0 leaves it to the
// gateway).
func (s *rowSpec) convert(line string, hdr *header, nowMs int64) (codec.Data, error) {
	r := row{fields: splitFields(line, s.delim), hdr: hdr, delim: s.delim}
	var d codec.Data
	name, ok := s.name.eval(&r)
	if !ok || name == "" {
		return d, &lineError{fmt.Sprintf("no device name (%s) in line", s.name.describe())}
	}
	d.Device = name
	if typ, ok := s.typ.eval(&r); ok {
		d.Type = typ
	}
	ts := nowMs
	if s.rowTS != nil {
		if v, ok := s.rowTS.eval(&r); ok {
			if t, err := tstamp.Parse(strings.TrimSpace(v), s.tsOpt); err == nil {
				ts = t
			}
		}
	}
	var missing []string
	for i := range s.attrs {
		c := &s.attrs[i]
		k, v, ok := c.pair(&r)
		if !ok {
			missing = append(missing, c.key.describe())
			continue
		}
		d.Attributes = append(d.Attributes, codec.Point{Key: k, Value: v, Report: c.report})
	}
	for i := range s.ts {
		c := &s.ts[i]
		k, v, ok := c.pair(&r)
		if !ok {
			missing = append(missing, c.key.describe())
			continue
		}
		pts := ts
		if c.tsField != nil {
			if sv, ok := c.tsField.eval(&r); ok {
				if t, err := tstamp.Parse(strings.TrimSpace(sv), c.tsOpt); err == nil {
					pts = t
				}
			}
		}
		d.Telemetry = append(d.Telemetry, codec.Point{Key: k, Value: v, TS: pts, Report: c.report})
	}
	if len(d.Attributes) == 0 && len(d.Telemetry) == 0 {
		if len(missing) > 0 {
			return d, &lineError{fmt.Sprintf("device %q: no values (missing %s)", name, strings.Join(missing, ", "))}
		}
		return d, &lineError{fmt.Sprintf("device %q: no values", name)}
	}
	return d, nil
}

// pair resolves a datapoint's key and typed value.
func (c *column) pair(r *row) (string, any, bool) {
	k, ok := c.key.eval(r)
	if !ok || k == "" {
		return "", nil, false
	}
	v, ok := c.val.eval(r)
	if !ok {
		return "", nil, false
	}
	v = strings.TrimSpace(v)
	return k, value.Coerce(c.typ, v), true
}

func (c *cell) describe() string {
	switch {
	case c.slice != nil:
		return "slice"
	case c.t != nil:
		return c.t.String()
	}
	return strconv.Quote(c.lit)
}
