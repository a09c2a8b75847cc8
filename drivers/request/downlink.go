package request

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/httpout"
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

// OnAttributes makes the call of every attributeUpdates entry whose
// filters match the device and an updated key.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	if !c.live.Load() {
		return errStopped
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		for _, a := range c.plan.attrs {
			if !a.MatchAttribute(device, k) {
				continue
			}
			c.downlinks.Add(1)
			res, err := a.Do(ctx, &tmpl.Vars{Device: device, Key: k, Value: values[k]})
			if err == nil && !res.OK() {
				err = fmt.Errorf("%s %s: HTTP %d", a.Method(), res.URL, res.Status)
			}
			if err != nil {
				c.downlinkErrors.Add(1)
				errs = append(errs, fmt.Errorf("attribute %s of %s: %w", k, device, err))
			}
		}
	}
	return errors.Join(errs...)
}

// OnRPC serves a device RPC through the first matching serverSideRpc
// entry, the reserved get/set (params "url=...;HTTPMethod=...;value=...;")
// and the connector RPC (params a JSON object of the same keys). Device
// answers are {"result":{"value":...}} or {"result":{"error":"..."}}, as
// upstream's.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if !c.live.Load() {
		return nil, errStopped
	}
	c.downlinks.Add(1)
	if req.Device == "" {
		return c.connectorRPC(ctx, req)
	}
	vars := &tmpl.Vars{Device: req.Device, Method: req.Method, RequestID: fmt.Sprint(req.ID), Params: req.Params}
	if req.Method == "get" || req.Method == "set" {
		p, err := rpcparams.FromJSON(req.Params, "value")
		if err != nil {
			return deviceReply(nil, nil, err), nil
		}
		get := p.Get
		if req.Method == "get" {
			get = func(k string) (string, bool) {
				if k == "value" || k == "requestValueExpression" || k == "valueExpression" {
					return "", false
				}
				return p.Get(k)
			}
		}
		spec, err := httpout.FromParams(get)
		if err != nil {
			return deviceReply(nil, nil, fmt.Errorf("please check your RPC params: %v", err)), nil
		}
		call, err := httpout.Compile(&spec, "", c.plan.opts)
		if err != nil {
			return deviceReply(nil, nil, fmt.Errorf("please check your RPC params: %v", err)), nil
		}
		defer call.Close()
		return deviceReply(c.execute(ctx, call, vars)), nil
	}
	for _, r := range c.plan.rpcs {
		if r.MatchRPC(req.Device, req.Method) {
			return deviceReply(c.execute(ctx, r, vars)), nil
		}
	}
	c.downlinkErrors.Add(1)
	return nil, fmt.Errorf("no serverSideRpc entry matches method %q of device %q", req.Method, req.Device)
}

// execute makes the call and reduces its answer, bounded by the entry's
// responseTimeout.
func (c *Connector) execute(ctx context.Context, call *httpout.Call, vars *tmpl.Vars) (*httpout.Result, any, error) {
	if d := call.ResponseTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	res, err := call.Do(ctx, vars)
	if err != nil {
		c.downlinkErrors.Add(1)
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("RPC timeout: %w", err)
		}
		return nil, nil, err
	}
	if !res.OK() {
		c.downlinkErrors.Add(1)
		return res, nil, fmt.Errorf("HTTP %d", res.Status)
	}
	v, err := call.Value(res)
	return res, v, err
}

func deviceReply(_ *httpout.Result, v any, err error) any {
	if err != nil {
		return map[string]any{"result": map[string]any{"error": err.Error()}}
	}
	return map[string]any{"result": map[string]any{"value": v}}
}

// connectorRPC serves "request_<method>" sent to the gateway device: its
// params are an object with the keys of a serverSideRpc entry.
func (c *Connector) connectorRPC(ctx context.Context, req connector.RPC) (any, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(req.Params, &obj); err != nil {
		// Also the reserved grammar: "url=...;HTTPMethod=...;value=...;".
		p, perr := rpcparams.FromJSON(req.Params, "value")
		if perr != nil {
			return nil, fmt.Errorf("params: want an object with requestUrlExpression, httpMethod, ... or a string url=...;HTTPMethod=...;: %v", err)
		}
		obj = map[string]json.RawMessage{}
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			obj[k], _ = json.Marshal(v)
		}
	}
	get := func(k string) (string, bool) {
		v, ok := obj[k]
		if !ok {
			return "", false
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s, true
		}
		return strings.TrimSpace(string(v)), true
	}
	spec, err := httpout.FromParams(get)
	if err != nil {
		return nil, fmt.Errorf("please check your RPC params: %v", err)
	}
	if spec.RequestValueExpression == nil && req.Method == "set" {
		return nil, errors.New("please check your RPC params: value is required")
	}
	call, err := httpout.Compile(&spec, "", c.plan.opts)
	if err != nil {
		return nil, fmt.Errorf("please check your RPC params: %v", err)
	}
	defer call.Close()
	vars := &tmpl.Vars{Method: req.Method, RequestID: fmt.Sprint(req.ID), Params: req.Params}
	res, v, err := c.execute(ctx, call, vars)
	if err != nil {
		out := map[string]any{"success": false, "error": err.Error()}
		if res != nil {
			out["status"] = res.Status
		}
		return []any{out}, nil
	}
	return []any{map[string]any{"success": true, "result": v, "status": res.Status}}, nil
}
