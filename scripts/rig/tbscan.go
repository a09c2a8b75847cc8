package rig

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Entry is one telemetry entry of a gateway telemetry message.
type Entry struct {
	Device []byte
	TS     int64 // 0 when the entry has none
	Seq    float64
	T      float64 // send time carried by the message
	HasSeq bool
	HasT   bool
	Points int // values in the entry
}

var errJSON = errors.New("malformed telemetry JSON")

// ScanTelemetry walks a v1/gateway/telemetry payload,
// {"dev":[{"ts":1,"values":{"k":v,...}},...],...}, calling fn for every
// entry (an entry without "values" counts its other members as values, as
// ThingsBoard does). It reads the numeric values "seq" and "t" and skips
// everything else without allocating; it never panics. Entries reported
// before a syntax error stay reported.
func ScanTelemetry(p []byte, fn func(e *Entry)) error {
	s := jscan{b: p}
	if !s.lit('{') {
		return errJSON
	}
	if s.lit('}') {
		return s.end()
	}
	for {
		dev, ok := s.str()
		if !ok || !s.lit(':') {
			return errJSON
		}
		if s.lit('[') {
			if !s.lit(']') {
				for {
					if !s.entry(dev, fn) {
						return errJSON
					}
					if s.lit(']') {
						break
					}
					if !s.lit(',') {
						return errJSON
					}
				}
			}
		} else if !s.entry(dev, fn) { // a single entry object
			return errJSON
		}
		if s.lit('}') {
			return s.end()
		}
		if !s.lit(',') {
			return errJSON
		}
	}
}

type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit consumes c (after white space) if it is next.
func (s *jscan) lit(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jscan) end() error {
	s.ws()
	if s.i != len(s.b) {
		return errJSON
	}
	return nil
}

// str reads a string; escaped strings are decoded (into a new slice).
func (s *jscan) str() ([]byte, bool) {
	if !s.lit('"') {
		return nil, false
	}
	start, esc := s.i, false
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\\':
			esc = true
			s.i += 2
			continue
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !esc {
				return raw, true
			}
			var out string
			if json.Unmarshal(s.b[start-1:s.i], &out) != nil {
				return nil, false
			}
			return []byte(out), true
		case c < 0x20:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// num reads a number.
func (s *jscan) num() (float64, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	return f, err == nil
}

// skip skips one value of any kind.
func (s *jscan) skip() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{' || c == '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			case '"':
				if _, ok := s.str(); !ok {
					return false
				}
				continue
			}
			s.i++
		}
		return false
	case c == 't':
		return s.word("true")
	case c == 'f':
		return s.word("false")
	case c == 'n':
		return s.word("null")
	}
	_, ok := s.num()
	return ok
}

func (s *jscan) word(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// entry reads {"ts":N,"values":{...}} (or a flat object of values).
func (s *jscan) entry(dev []byte, fn func(e *Entry)) bool {
	if !s.lit('{') {
		return false
	}
	e := Entry{Device: dev}
	var flat Entry // members outside "values"
	hasValues := false
	if !s.lit('}') {
		for {
			k, ok := s.str()
			if !ok || !s.lit(':') {
				return false
			}
			switch string(k) {
			case "ts":
				f, ok := s.num()
				if !ok {
					return false
				}
				e.TS = int64(f)
			case "values":
				hasValues = true
				if !s.values(&e) {
					return false
				}
			default:
				flat.Points++
				if !s.member(string(k), &flat) {
					return false
				}
			}
			if s.lit('}') {
				break
			}
			if !s.lit(',') {
				return false
			}
		}
	}
	if !hasValues {
		e.Seq, e.HasSeq, e.T, e.HasT, e.Points = flat.Seq, flat.HasSeq, flat.T, flat.HasT, flat.Points
	}
	fn(&e)
	return true
}

// values reads the values object of an entry.
func (s *jscan) values(e *Entry) bool {
	if !s.lit('{') {
		return false
	}
	if s.lit('}') {
		return true
	}
	for {
		k, ok := s.str()
		if !ok || !s.lit(':') {
			return false
		}
		e.Points++
		if !s.member(string(k), e) {
			return false
		}
		if s.lit('}') {
			return true
		}
		if !s.lit(',') {
			return false
		}
	}
}

// member reads the value of key k, keeping seq and t.
func (s *jscan) member(k string, e *Entry) bool {
	switch k {
	case "seq", "t":
		s.ws()
		if s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] >= '0' && s.b[s.i] <= '9') {
			f, ok := s.num()
			if !ok {
				return false
			}
			if k == "seq" {
				e.Seq, e.HasSeq = f, true
			} else {
				e.T, e.HasT = f, true
			}
			return true
		}
	}
	return s.skip()
}
