package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/httpout"
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

var errStopped = errors.New("rest connector is not running")

// OnAttributes answers the requests of responseExpected endpoints waiting
// for an updated attribute, and makes the call of every attributeUpdates
// entry whose filters match.
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
		c.waiters.deliver(device, k, values[k])
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

// OnRPC serves device RPCs through the first matching serverSideRpc entry
// and the reserved get/set (params "url=...;HTTPMethod=...;value=...;",
// also as the connector RPCs rest_get/rest_set). The answer is
// {"result": <response JSON or text>}, or {"result": {"error": ...,
// "code": <HTTP status>}} as upstream's.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if !c.live.Load() {
		return nil, errStopped
	}
	c.downlinks.Add(1)
	vars := &tmpl.Vars{Device: req.Device, Method: req.Method, RequestID: fmt.Sprint(req.ID), Params: req.Params}
	if req.Method == "get" || req.Method == "set" {
		p, err := rpcparams.FromJSON(req.Params, "value")
		if err != nil {
			c.downlinkErrors.Add(1)
			return nil, fmt.Errorf("params: %v", err)
		}
		spec, err := httpout.FromParams(p.Get)
		if err != nil {
			c.downlinkErrors.Add(1)
			return nil, fmt.Errorf("params: %v", err)
		}
		call, err := httpout.Compile(&spec, "", c.plan.opts)
		if err != nil {
			c.downlinkErrors.Add(1)
			return nil, fmt.Errorf("params: %v", err)
		}
		defer call.Close()
		return c.execute(ctx, call, vars)
	}
	if req.Device != "" {
		for _, r := range c.plan.rpcs {
			if r.MatchRPC(req.Device, req.Method) {
				return c.execute(ctx, r, vars)
			}
		}
	}
	c.downlinkErrors.Add(1)
	return nil, fmt.Errorf("no serverSideRpc entry matches method %q of device %q", req.Method, req.Device)
}

func (c *Connector) execute(ctx context.Context, call *httpout.Call, vars *tmpl.Vars) (any, error) {
	if d := call.ResponseTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	res, err := call.Do(ctx, vars)
	if err != nil {
		c.downlinkErrors.Add(1)
		if ctx.Err() != nil {
			return map[string]any{"result": map[string]any{"error": "Timeout", "code": http.StatusRequestTimeout}}, nil
		}
		return nil, err
	}
	if !res.OK() {
		c.downlinkErrors.Add(1)
		return map[string]any{"result": map[string]any{"error": http.StatusText(res.Status), "code": res.Status}}, nil
	}
	v, err := call.Value(res)
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": v}, nil
}
