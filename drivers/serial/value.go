package serial

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// cut selects the part of a frame a key reads: between two delimiters, or
// a byte range with Python slice semantics (negative indexes count from
// the end, out-of-range indexes clamp; toByte is exclusive).
type cut struct {
	from, to              *int
	fromDelim, untilDelim string
}

// errAbsent means the frame does not carry this key (a delimiter was not
// found, or the selected part is empty).
var errAbsent = errors.New("not in frame")

func (c cut) apply(b []byte) ([]byte, error) {
	if c.fromDelim != "" || c.untilDelim != "" {
		if c.fromDelim != "" {
			i := bytes.Index(b, []byte(c.fromDelim))
			if i < 0 {
				return nil, errAbsent
			}
			b = b[i+len(c.fromDelim):]
		}
		if c.untilDelim != "" {
			if i := bytes.Index(b, []byte(c.untilDelim)); i >= 0 {
				b = b[:i]
			}
		}
		return b, nil
	}
	n := len(b)
	lo, hi := 0, n
	if c.from != nil {
		lo = pyIndex(*c.from, n)
	}
	if c.to != nil {
		hi = pyIndex(*c.to, n)
	}
	if lo >= hi {
		return nil, errAbsent
	}
	return b[lo:hi], nil
}

func pyIndex(i, n int) int {
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

// parseValue converts the bytes a key selected into a data-model value
// (int64, float64, bool, string or json.RawMessage). errAbsent means there
// is nothing to report.
func parseValue(typ string, b []byte) (any, error) {
	switch typ {
	case "string":
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("not UTF-8 text: % x", clip(b))
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, errAbsent
		}
		return s, nil
	case "int":
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, errAbsent
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer: %q", clip([]byte(s)))
		}
		return v, nil
	case "float", "double":
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, errAbsent
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("not a finite number: %q", clip([]byte(s)))
		}
		return v, nil
	case "bool":
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, errAbsent
		}
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v != 0, nil
		}
		return strings.EqualFold(s, "true"), nil
	case "json":
		t := bytes.TrimSpace(b)
		if len(t) == 0 {
			return nil, errAbsent
		}
		if !json.Valid(t) {
			return nil, fmt.Errorf("not JSON: %q", clip(t))
		}
		switch t[0] {
		case '{', '[':
			return json.RawMessage(append([]byte(nil), t...)), nil
		case 'n':
			return nil, errAbsent
		}
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
			f, err := n.Float64()
			if err != nil {
				return nil, fmt.Errorf("number out of range: %s", n)
			}
			return f, nil
		}
		return v, nil
	default: // hex
		if len(b) == 0 {
			return nil, errAbsent
		}
		return hex.EncodeToString(b), nil
	}
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
