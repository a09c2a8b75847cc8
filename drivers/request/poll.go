package request

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/kit"
)

// poll requests e once, converts the answer and hands it to the gateway
// (run by the kit's scheduler: never twice at once for one mapping).
func (c *Connector) poll(ctx context.Context, e *endpoint, sender *kit.Sender) error {
	c.polls.Add(1)
	err := c.pollOnce(ctx, e, sender)
	if err != nil {
		c.pollErrors.Add(1)
	}
	return err
}

func (c *Connector) pollOnce(ctx context.Context, e *endpoint, sender *kit.Sender) error {
	res, err := e.call.Send(ctx, e.url, e.body)
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("HTTP %d", res.Status)
	}
	c.bytesIn.Add(uint64(len(res.Body)))
	payload := res.Body
	if !e.raw {
		if payload, err = c.prepare(ctx, e, payload); err != nil {
			return err
		}
	}
	data, cerr := e.conv.Convert(e.url, payload, c.env.Now().UnixMilli())
	if len(data) > 0 {
		c.messages.Add(1)
		if err := sender.Send(ctx, data); err != nil {
			return err
		}
	}
	if cerr != nil {
		return fmt.Errorf("converting the response: %w", cerr)
	}
	return nil
}

// prepare unpacks the JSON response and runs its sub-requests.
func (c *Connector) prepare(ctx context.Context, e *endpoint, body []byte) ([]byte, error) {
	d, err := jpath.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	if e.unpack != nil {
		n := e.unpack.Eval(d, d.Root())
		if n == jpath.NoNode {
			return nil, fmt.Errorf("dataUnpackExpression %s matches nothing in the response", e.unpack)
		}
		body = d.AppendCompact(nil, n)
		if len(e.subs) > 0 {
			if d, err = jpath.Parse(body); err != nil {
				return nil, err
			}
		}
	}
	if len(e.subs) == 0 {
		return body, nil
	}
	return c.subRequests(ctx, e, d)
}

// maxElements bounds the elements of one response that get sub-requests.
const maxElements = 10000

// subRequests fetches the sub-requests of every element of d (an object
// or an array of objects) and merges their results into it.
func (c *Connector) subRequests(ctx context.Context, e *endpoint, d *jpath.Doc) ([]byte, error) {
	var elems []jpath.Node
	root := d.Root()
	switch d.Kind(root) {
	case jpath.Object:
		elems = append(elems, root)
	case jpath.Array:
		d.Each(root, func(_ []byte, v jpath.Node) bool {
			elems = append(elems, v)
			return len(elems) < maxElements
		})
	default:
		return d.AppendCompact(nil, root), nil
	}
	out := make([]json.RawMessage, 0, len(elems))
	for _, el := range elems {
		raw := d.AppendCompact(nil, el)
		if d.Kind(el) != jpath.Object {
			out = append(out, raw)
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		for _, s := range e.subs {
			u, _ := s.url.Append(nil, d, el, tmpl.MissingKeep)
			su := string(u)
			if !hasScheme(su) {
				if len(su) == 0 || su[0] != '/' {
					su = "/" + su
				}
				su = e.url + su
			}
			res, err := e.call.Send(ctx, su, e.body)
			if err != nil {
				return nil, fmt.Errorf("sub-request %s: %w", s.key, err)
			}
			if !res.OK() {
				c.log.Warn("request: sub-request failed", "url", su, "status", res.Status)
				continue
			}
			add, err := s.apply(res.Body)
			if err != nil {
				c.log.Warn("request: sub-request", "url", su, "err", err)
				continue
			}
			for k, v := range add {
				b, err := json.Marshal(v)
				if err != nil {
					return nil, err
				}
				m[k] = b
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if d.Kind(root) == jpath.Object {
		return out[0], nil
	}
	return json.Marshal(out)
}

func hasScheme(u string) bool {
	return len(u) >= 7 && (equalFold(u[:7], "http://") || len(u) >= 8 && equalFold(u[:8], "https://"))
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
