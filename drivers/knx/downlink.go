package knx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tbgw/tbgw/codec/knx"
	"github.com/tbgw/tbgw/gw/connector"
)

func (c *Connector) ready() error {
	if !c.running.Load() {
		return errors.New("knx connector is not running")
	}
	if c.bus.link() == nil {
		return errNotConnected
	}
	return nil
}

// OnAttributes writes each updated key to the group address of every
// attributeUpdates entry whose deviceNameFilter matches the device.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	if err := c.ready(); err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	n := 0
	for _, u := range c.plan.attrUpd {
		if !u.filter.FullMatch(device) {
			continue
		}
		for _, k := range keys {
			if k != u.key {
				continue
			}
			n++
			if err := c.bus.write(ctx, u.ga, u.dpt, values[k]); err != nil {
				errs = append(errs, fmt.Errorf("device %s: attribute %s: %w", device, k, err))
			}
		}
	}
	if n == 0 {
		c.log.Debug("knx: no attributeUpdates entry for the update", "device", device)
	}
	return errors.Join(errs...)
}

// OnRPC serves the configured serverSideRpc methods and the reserved
// get/set ("groupAddress=1/0/5;dataType=string;value=...;").
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	if req.Method == "get" || req.Method == "set" {
		return c.reserved(ctx, req)
	}
	for _, r := range c.plan.rpcs {
		if r.method != req.Method || !r.filter.FullMatch(req.Device) {
			continue
		}
		if !r.write {
			v, err := c.bus.read(ctx, r.ga, r.dpt, c.plan.readTimeout)
			if err != nil {
				return nil, err
			}
			return map[string]any{"result": map[string]any{"value": v}}, nil
		}
		v, err := rpcValue(req.Params)
		if err != nil {
			return nil, err
		}
		if err := c.bus.write(ctx, r.ga, r.dpt, v); err != nil {
			return nil, err
		}
		return map[string]any{"result": map[string]any{"value": v}}, nil
	}
	return nil, fmt.Errorf("no serverSideRpc entry for method %s of device %q", req.Method, req.Device)
}

// rpcValue is the value to write: the params themselves, or their
// "value" member.
func rpcValue(raw json.RawMessage) (any, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || v == nil {
		return nil, errors.New("params must hold the value to write")
	}
	if m, ok := v.(map[string]any); ok {
		x, ok := m["value"]
		if !ok {
			return nil, errors.New(`params object must have a "value"`)
		}
		return x, nil
	}
	return v, nil
}

func (c *Connector) reserved(ctx context.Context, req connector.RPC) (any, error) {
	var ps string
	if err := json.Unmarshal(req.Params, &ps); err != nil {
		return nil, fmt.Errorf("%s: params must be a string of key=value; pairs", req.Method)
	}
	p := map[string]string{}
	for _, part := range strings.Split(ps, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && k != "" && v != "" && !strings.Contains(v, "=") {
			p[strings.TrimSpace(k)] = v
		}
	}
	ga, err := knx.ParseGroup(p["groupAddress"])
	if err != nil {
		return nil, fmt.Errorf("%s: groupAddress: %w", req.Method, err)
	}
	dt := p["dataType"]
	if dt == "" {
		return nil, fmt.Errorf("%s: dataType=...; is required", req.Method)
	}
	t, err := knx.LookupDPT(dt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Method, err)
	}
	if v, ok := p["value"]; ok || req.Method == "set" {
		if !ok {
			return nil, errors.New("set: value=...; is required")
		}
		var val any = v
		if t.Name != "string" && t.ID != "16.000" && t.ID != "16.001" {
			val = json.Number(v)
			if t.Small() {
				val = v // booleans as words
			}
		}
		if err := c.bus.write(ctx, ga, t, val); err != nil {
			return nil, err
		}
		return map[string]any{"result": map[string]any{"value": v}}, nil
	}
	v, err := c.bus.read(ctx, ga, t, c.plan.readTimeout)
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": map[string]any{"value": v}}, nil
}
