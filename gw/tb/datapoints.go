package tb

import "strings"

// CountDatapoints returns the datapoint cost of a telemetry or attribute
// message as ThingsBoard's datapoint limits count it, following upstream:
// for every record, the number of keys of its "values" object (or of the
// record itself when it is a flat object) plus the record's JSON length
// divided by 1000. It understands the gateway form
// {"dev":[{"ts":1,"values":{..}}],"dev2":{"k":v}} on v1/gateway/telemetry
// and v1/gateway/attributes, and the device form [{"ts":1,"values":{..}}],
// {"ts":1,"values":{..}} or {"k":v} on v1/devices/me/telemetry. Other topics
// cost 0; malformed JSON costs 1. It does not allocate.
func CountDatapoints(topic string, payload []byte) int {
	_, tel, _ := topicClasses(topic)
	if tel < 0 {
		return 0
	}
	p := dpScanner{b: payload}
	i := p.ws(0)
	var n int
	var ok bool
	if strings.HasPrefix(topic, "v1/gateway/") {
		n, ok = p.gateway(i)
	} else {
		n, _, ok = p.entry(i)
	}
	if !ok {
		return 1
	}
	return n
}

type dpScanner struct{ b []byte }

func (p *dpScanner) ws(i int) int {
	for i < len(p.b) {
		switch p.b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// str skips the string starting at b[i]=='"' and returns the index after it.
func (p *dpScanner) str(i int) (int, bool) {
	for i++; i < len(p.b); i++ {
		switch p.b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skip returns the index after the JSON value starting at i. Containers
// are skipped by bracket depth, without recursion.
func (p *dpScanner) skip(i int) (int, bool) {
	if i >= len(p.b) {
		return 0, false
	}
	switch p.b[i] {
	case '"':
		return p.str(i)
	case '{', '[':
		depth := 0
		for i < len(p.b) {
			switch p.b[i] {
			case '"':
				j, ok := p.str(i)
				if !ok {
					return 0, false
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	start := i
	for i < len(p.b) {
		switch p.b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i, i > start
		}
		i++
	}
	return i, i > start
}

// members walks the object at b[i]=='{', calling fn with the raw key and the
// value's start index for every member; fn returns false to stop. It
// returns the index after the object and the member count.
func (p *dpScanner) members(i int, fn func(key []byte, v int) bool) (end, count int, ok bool) {
	i = p.ws(i + 1)
	if i < len(p.b) && p.b[i] == '}' {
		return i + 1, 0, true
	}
	for i < len(p.b) {
		if p.b[i] != '"' {
			return 0, 0, false
		}
		ke, ok := p.str(i)
		if !ok {
			return 0, 0, false
		}
		key := p.b[i+1 : ke-1]
		i = p.ws(ke)
		if i >= len(p.b) || p.b[i] != ':' {
			return 0, 0, false
		}
		v := p.ws(i + 1)
		count++
		if fn != nil && !fn(key, v) {
			return 0, 0, false
		}
		ve, ok := p.skip(v)
		if !ok {
			return 0, 0, false
		}
		i = p.ws(ve)
		if i >= len(p.b) {
			return 0, 0, false
		}
		switch p.b[i] {
		case ',':
			i = p.ws(i + 1)
		case '}':
			return i + 1, count, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// gateway counts {"dev": entry-or-entries, ...}.
func (p *dpScanner) gateway(i int) (int, bool) {
	if i >= len(p.b) || p.b[i] != '{' {
		return 0, false
	}
	total := 0
	good := true
	_, _, ok := p.members(i, func(_ []byte, v int) bool {
		n, _, ok := p.entry(v)
		total += n
		good = good && ok
		return ok
	})
	return total, ok && good
}

// entry counts an entry object or an array of entry objects starting at i
// and returns the index after it.
func (p *dpScanner) entry(i int) (n, end int, ok bool) {
	if i >= len(p.b) {
		return 0, 0, false
	}
	switch p.b[i] {
	case '{':
		return p.record(i)
	case '[':
		i = p.ws(i + 1)
		if i < len(p.b) && p.b[i] == ']' {
			return 0, i + 1, true
		}
		for i < len(p.b) {
			var m int
			if p.b[i] == '{' {
				m, i, ok = p.record(i)
			} else {
				i, ok = p.skip(i)
			}
			if !ok {
				return 0, 0, false
			}
			n += m
			i = p.ws(i)
			if i >= len(p.b) {
				return 0, 0, false
			}
			switch p.b[i] {
			case ',':
				i = p.ws(i + 1)
			case ']':
				return n, i + 1, true
			default:
				return 0, 0, false
			}
		}
		return 0, 0, false
	}
	return 0, 0, false
}

// record counts one {"ts":..,"values":{..}} or flat {"k":v} object.
func (p *dpScanner) record(i int) (n, end int, ok bool) {
	vals := -1
	end, keys, ok := p.members(i, func(key []byte, v int) bool {
		if string(key) == "values" && v < len(p.b) && p.b[v] == '{' {
			vals = v
		}
		return true
	})
	if !ok {
		return 0, 0, false
	}
	if vals < 0 {
		return keys + (end-i)/1000, end, true
	}
	vend, vkeys, ok := p.members(vals, nil)
	if !ok {
		return 0, 0, false
	}
	return vkeys + (vend-vals)/1000, end, true
}
