package mqtt

import (
	"errors"
	"strings"
)

// filter is a compiled MQTT topic filter. It matches topic names the way a
// broker does (MQTT 3.1.1 section 4.7): "+" is exactly one level (possibly
// empty), a trailing "#" is the parent level and any number of levels
// below it, and filters starting with a wildcard never match topics that
// start with "$".
type filter struct {
	raw    string   // as configured, e.g. "$share/g/sensor/+/data"
	sub    string   // what is subscribed: raw
	levels []string // match part split on "/", shared prefix removed
	multi  bool     // the last level was "#"
	exact  bool     // no wildcards: compare whole topic
	topic  string   // the match part as one string (exact filters)
}

var errBadFilter = errors.New("invalid topic filter")

// compileFilter checks f and returns its matcher. "$share/<group>/<filter>"
// subscribes to a shared subscription and matches like <filter>.
func compileFilter(f string) (*filter, error) {
	if f == "" || strings.IndexByte(f, 0) >= 0 {
		return nil, errBadFilter
	}
	m := f
	if strings.HasPrefix(f, "$share/") {
		rest := f[len("$share/"):]
		i := strings.IndexByte(rest, '/')
		if i <= 0 || i == len(rest)-1 || strings.ContainsAny(rest[:i], "+#") {
			return nil, errors.New("invalid shared subscription: want $share/<group>/<filter>")
		}
		m = rest[i+1:]
	}
	levels := strings.Split(m, "/")
	out := &filter{raw: f, sub: f, topic: m, exact: true}
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return nil, errors.New(`invalid topic filter: "#" must be the last level`)
			}
			out.multi, out.exact = true, false
			levels = levels[:i]
		case l == "+":
			out.exact = false
		case strings.ContainsAny(l, "+#"):
			return nil, errors.New(`invalid topic filter: "+" and "#" must occupy a whole level`)
		}
	}
	out.levels = levels
	return out, nil
}

// match reports whether topic name t matches the filter.
func (f *filter) match(t string) bool {
	if f.exact {
		return t == f.topic
	}
	if len(t) > 0 && t[0] == '$' && (len(f.levels) == 0 || f.levels[0] == "+") {
		return false
	}
	rest := t
	for i, l := range f.levels {
		var lvl string
		j := strings.IndexByte(rest, '/')
		last := j < 0
		if last {
			lvl = rest
		} else {
			lvl = rest[:j]
		}
		if l != "+" && l != lvl {
			return false
		}
		if last {
			// Topic ends here: all filter levels consumed, or only "#" left
			// ("a/#" matches "a").
			return i == len(f.levels)-1
		}
		rest = rest[j+1:]
	}
	// Topic has more levels than the filter.
	return f.multi
}
