package xmpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/codec/xmpp"
	"github.com/tbgw/tbgw/gw/connector"
)

func (c *Connector) target(device string) (*client, route, error) {
	if !c.running.Load() {
		return nil, route{}, errors.New("xmpp connector is not running")
	}
	cl := c.cur.Load()
	if cl == nil {
		return nil, route{}, errors.New("not logged in to the XMPP server")
	}
	c.mu.Lock()
	r, ok := c.byName[device]
	c.mu.Unlock()
	if !ok {
		return nil, route{}, fmt.Errorf("device %q has not sent a message yet; its JID is unknown", device)
	}
	return cl, r, nil
}

func (c *Connector) sendBody(cl *client, to, thread, body string) error {
	if err := cl.write(xmpp.AppendMessage(nil, to, randomID(), thread, body)); err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	c.counters.Add("messagesSent", 1)
	return nil
}

// OnAttributes sends a message for every attributeUpdates entry of the
// device whose attributeOnThingsBoard was updated.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	cl, r, err := c.target(device)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, u := range r.dev.attrUpd {
		for _, k := range keys {
			if k == u.key {
				body := u.value.Payload(&tmpl.Vars{Device: device, Key: k, Value: values[k]})
				if err := c.sendBody(cl, r.jid, "", body); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// OnRPC sends a configured RPC as a message and, withResponse, waits for
// the device's reply; the reserved "set" sends its key=value; params as a
// JSON object.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Device == "" {
		return nil, fmt.Errorf("xmpp: method %s needs a device", req.Method)
	}
	cl, r, err := c.target(req.Device)
	if err != nil {
		return nil, err
	}
	if req.Method == "set" {
		var ps string
		if err := json.Unmarshal(req.Params, &ps); err != nil {
			return nil, errors.New("set: params must be a string of key=value; pairs")
		}
		m := map[string]string{}
		for _, part := range strings.Split(ps, ";") {
			k, v, ok := strings.Cut(part, "=")
			if ok && k != "" && v != "" && !strings.Contains(v, "=") {
				m[k] = v
			}
		}
		if len(m) == 0 {
			return nil, errors.New("set: params are empty, expected value=...;")
		}
		b, _ := json.Marshal(m)
		if err := c.sendBody(cl, r.jid, "", string(b)); err != nil {
			return nil, err
		}
		return map[string]any{"result": map[string]any{"success": true}}, nil
	}
	rp, ok := r.dev.rpcs[req.Method]
	if !ok {
		return nil, fmt.Errorf("no serverSideRpc entry for method %s", req.Method)
	}
	body := rp.value.Payload(&tmpl.Vars{Device: req.Device, Method: req.Method, Params: req.Params, RequestID: fmt.Sprint(req.ID)})
	if !rp.withResponse {
		if err := c.sendBody(cl, r.jid, "", body); err != nil {
			return nil, err
		}
		return map[string]any{"success": true}, nil
	}
	w := waiter{thread: "rpc-" + randomID(), ch: make(chan reply, 1)}
	c.mu.Lock()
	c.waiters[r.jid] = append(c.waiters[r.jid], w)
	c.mu.Unlock()
	defer c.unwait(r.jid, w)
	if err := c.sendBody(cl, r.jid, w.thread, body); err != nil {
		return nil, err
	}
	select {
	case rep := <-w.ch:
		return map[string]any{"result": jsonOrText(rep.body)}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no reply from %s: %w", r.jid, ctx.Err())
	}
}

func (c *Connector) unwait(jid string, w waiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiters[jid]
	for i, x := range ws {
		if x.ch == w.ch {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(c.waiters, jid)
	} else {
		c.waiters[jid] = ws
	}
}
