package gw

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/tbgw/tbgw/codec/tbjson"
)

// payloadLimit is the largest message to build for ThingsBoard now: the
// link's figure once it has one (it changes when the session limits
// answer arrives, possibly after records were stored), else the
// configured one.
func (g *Gateway) payloadLimit() int {
	if g.link != nil {
		if n := g.link.MaxPayload(); n > 0 {
			return n
		}
	}
	return int(g.maxPayload.Load())
}

// fit returns parts with every fragment that cannot fit in a message of
// limit bytes (with dev's name around it) split into smaller fragments,
// as far as they split. A record stored while a larger limit applied
// (before the session limits were known) is sent in pieces rather than
// refused by ThingsBoard. parts is returned as it is when all fit.
func fit(dev []byte, parts [][]byte, attrs bool, limit int) [][]byte {
	over := func(p []byte) bool { return len(p)+len(dev)+12 > limit }
	i := 0
	for i < len(parts) && !over(parts[i]) {
		i++
	}
	if limit <= 0 || i == len(parts) {
		return parts
	}
	out := append([][]byte(nil), parts[:i]...)
	for _, p := range parts[i:] {
		out = appendFitted(out, dev, p, attrs, limit, over)
	}
	return out
}

func appendFitted(out [][]byte, dev, p []byte, attrs bool, limit int, over func([]byte) bool) [][]byte {
	if !over(p) {
		return append(out, p)
	}
	a, b, ok := splitFragment(p, attrs)
	if !ok {
		return append(out, p) // a single value larger than the limit
	}
	out = appendFitted(out, dev, a, attrs, limit, over)
	return appendFitted(out, dev, b, attrs, limit, over)
}

// splitFragment splits a stored fragment in two: attribute members
// (`"k":v,...`) in halves; telemetry elements (`{...},{...}`) in halves,
// or one element's values in halves under the same timestamp. Values are
// kept byte for byte. ok is false when the fragment holds one value only
// or does not parse.
func splitFragment(p []byte, attrs bool) (a, b []byte, ok bool) {
	if attrs {
		m, err := members(append(append([]byte{'{'}, p...), '}'))
		if err != nil || len(m) < 2 {
			return nil, nil, false
		}
		h := len(m) / 2
		return appendMembers(nil, m[:h]), appendMembers(nil, m[h:]), true
	}
	els, err := elements(append(append([]byte{'['}, p...), ']'))
	if err != nil || len(els) == 0 {
		return nil, nil, false
	}
	if len(els) >= 2 {
		h := len(els) / 2
		return bytes.Join(els[:h], []byte{','}), bytes.Join(els[h:], []byte{','}), true
	}
	// One element: {"ts":N,"values":{...}} (or a bare values object).
	m, err := members(els[0])
	if err != nil {
		return nil, nil, false
	}
	vi := -1
	for i, kv := range m {
		if kv.key == "values" {
			vi = i
		}
	}
	if vi < 0 { // {"k":v,...} without a timestamp
		if len(m) < 2 {
			return nil, nil, false
		}
		h := len(m) / 2
		return wrap(appendMembers(nil, m[:h])), wrap(appendMembers(nil, m[h:])), true
	}
	vals, err := members(m[vi].val)
	if err != nil || len(vals) < 2 {
		return nil, nil, false
	}
	h := len(vals) / 2
	half := func(vs []member) []byte {
		out := make([]member, len(m))
		copy(out, m)
		out[vi].val = wrap(appendMembers(nil, vs))
		return wrap(appendMembers(nil, out))
	}
	return half(vals[:h]), half(vals[h:]), true
}

var errNotSplittable = errors.New("gw: not a splittable fragment")

type member struct {
	key string
	val []byte
}

func wrap(b []byte) []byte { return append(append([]byte{'{'}, b...), '}') }

func appendMembers(dst []byte, m []member) []byte {
	for i, kv := range m {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = tbjson.AppendString(dst, kv.key)
		dst = append(dst, ':')
		dst = append(dst, kv.val...)
	}
	return dst
}

// members reads a JSON object's members in order, values as raw bytes.
func members(obj []byte) ([]member, error) {
	d := json.NewDecoder(bytes.NewReader(obj))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotSplittable
	}
	var m []member
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		m = append(m, member{k, v})
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errNotSplittable
	}
	return m, nil
}

// elements reads a JSON array's elements, as raw bytes.
func elements(arr []byte) ([][]byte, error) {
	d := json.NewDecoder(bytes.NewReader(arr))
	if t, err := d.Token(); err != nil || t != json.Delim('[') {
		return nil, errNotSplittable
	}
	var els [][]byte
	for d.More() {
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		els = append(els, v)
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errNotSplittable
	}
	return els, nil
}
