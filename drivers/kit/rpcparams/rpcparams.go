// Package rpcparams parses upstream's reserved-RPC parameter grammar, the
// `key=value;key=value;` strings that describe a protocol operation in a
// `get` or `set` RPC (for example Modbus
// `type=16int;functionCode=6;objectsCount=1;address=2;value=10;`).
//
// Grammar: parts are separated by ';'; each part is key '=' value; the key
// is trimmed of spaces, the value is kept as written and may contain '='.
// Parts without '=' or with an empty key are ignored, as upstream does. A
// key named as greedy (usually "value") takes the rest of the string, ';'
// included, up to an optional final ';', so a value may itself hold ';'.
// A repeated key keeps its last value.
//
// Non-goals: the per-connector meaning of keys, and validation beyond the
// grammar; connectors check required keys with Require.
package rpcparams

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Params is a parsed parameter string. The zero value is empty.
type Params struct {
	keys []string
	m    map[string]string
}

// Parse splits s. Keys listed in greedy take the rest of the string.
func Parse(s string, greedy ...string) Params {
	p := Params{m: map[string]string{}}
	for len(s) > 0 {
		part, rest, _ := strings.Cut(s, ";")
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if ok && k != "" {
			for _, g := range greedy {
				if k == g {
					_, after, _ := strings.Cut(s, "=")
					v = strings.TrimSuffix(after, ";")
					rest = ""
					break
				}
			}
			p.set(k, v)
		}
		s = rest
	}
	return p
}

// FromJSON parses RPC params as received from ThingsBoard: a JSON string
// holding the grammar. Any other JSON value is an error.
func FromJSON(raw json.RawMessage, greedy ...string) (Params, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return Params{}, fmt.Errorf("params must be a string of key=value; pairs, got %s", abbrev(raw))
	}
	return Parse(s, greedy...), nil
}

func abbrev(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

func (p *Params) set(k, v string) {
	if _, ok := p.m[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.m[k] = v
}

// Get returns the value of key and whether it was given.
func (p Params) Get(key string) (string, bool) {
	v, ok := p.m[key]
	return v, ok
}

// String returns the value of key, or def when absent or empty.
func (p Params) String(key, def string) string {
	if v, ok := p.m[key]; ok && v != "" {
		return v
	}
	return def
}

// Has tells whether key was given.
func (p Params) Has(key string) bool { _, ok := p.m[key]; return ok }

// Keys lists the keys in the order first given.
func (p Params) Keys() []string { return append([]string(nil), p.keys...) }

// Len is the number of keys.
func (p Params) Len() int { return len(p.keys) }

// Map returns a copy of the pairs.
func (p Params) Map() map[string]string {
	out := make(map[string]string, len(p.m))
	for k, v := range p.m {
		out[k] = v
	}
	return out
}

// Int returns key as an integer (decimal, or 0x hex), def when absent.
func (p Params) Int(key string, def int64) (int64, error) {
	v, ok := p.m[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: want an integer, got %q", key, v)
	}
	return n, nil
}

// Float returns key as a number, def when absent.
func (p Params) Float(key string, def float64) (float64, error) {
	v, ok := p.m[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, fmt.Errorf("%s: want a number, got %q", key, v)
	}
	return f, nil
}

// Bool returns key as a boolean (true/false/1/0, any case), def when absent.
func (p Params) Bool(key string, def bool) (bool, error) {
	v, ok := p.m[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
	if err != nil {
		return false, fmt.Errorf("%s: want true or false, got %q", key, v)
	}
	return b, nil
}

// Require returns an error naming the first of keys that is absent or empty.
func (p Params) Require(keys ...string) error {
	for _, k := range keys {
		if v, ok := p.m[k]; !ok || v == "" {
			return fmt.Errorf("missing %s in params", k)
		}
	}
	return nil
}
