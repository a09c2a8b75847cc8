package can

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

// OnAttributes sends a frame for each updated attribute that has an
// attributeUpdates entry.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	d, ok := c.plan.byName[device]
	if !ok {
		return fmt.Errorf("unknown device %q", device)
	}
	var errs []error
	for k, v := range values {
		dl, ok := d.attrs[k]
		if !ok {
			c.log.Debug("no attributeUpdates entry for attribute; ignored", "device", device, "attribute", k)
			continue
		}
		data := map[string]any{"value": wholeNumbers(v)}
		if err := c.send(ctx, d, dl, data, dl.py, data); err != nil {
			errs = append(errs, fmt.Errorf("attribute %q of device %q: %w", k, device, err))
		}
	}
	return errors.Join(errs...)
}

// OnRPC sends the frame of a serverSideRpc entry (or, with
// enableUnknownRpc, of any method whose params describe it; with the
// reserved "set", of a "key=value;" params string) and answers
// {"success": true} once the kernel took the frame.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	d, ok := c.plan.byName[req.Device]
	if !ok {
		return nil, fmt.Errorf("unknown device %q", req.Device)
	}
	var data map[string]any
	var pyCfg map[string]any // a downlink converter's arguments, as upstream's connector passes them
	var pyData any
	switch {
	case req.Method == "set":
		p, err := rpcparams.FromJSON(req.Params, "value", "dataInHex")
		if err != nil {
			return nil, err
		}
		data, pyCfg = map[string]any{}, map[string]any{}
		for k, v := range p.Map() {
			data[k] = scalar(v)
			pyCfg[k] = v
		}
		_ = json.Unmarshal(req.Params, &pyData)
	default:
		var err error
		if data, err = rpcData(req.Params); err != nil {
			return nil, err
		}
	}
	dl, ok := d.rpcs[req.Method]
	switch {
	case ok:
	case req.Method == "set" || d.unknownRPC:
		dl = &downlink{} // everything comes from the params
	default:
		return nil, fmt.Errorf("method %q is not configured for device %q (serverSideRpc) and enableUnknownRpc is off", req.Method, req.Device)
	}
	if d.pyDown != nil && req.Method != "set" {
		pyData = map[string]any{}
		if len(req.Params) > 0 {
			_ = decodeJSON(req.Params, &pyData)
		}
		switch {
		case !d.override:
			pyCfg = dl.py
		case ok:
			pyCfg = pyMerge(dl.py, pyData)
		default: // an unknown method: its params are the configuration
			pyCfg, _ = pyData.(map[string]any)
		}
	}
	if d.override || req.Method == "set" {
		var err error
		if dl, err = c.merge(dl, data, d.strict); err != nil {
			return nil, fmt.Errorf("RPC %q: %w", req.Method, err)
		}
	}
	if err := c.send(ctx, d, dl, data, pyCfg, pyData); err != nil {
		return nil, fmt.Errorf("RPC %q: %w", req.Method, err)
	}
	return map[string]any{"success": true}, nil
}

// rpcData reads RPC params: an object is the data; any other value is
// the data's "value" (upstream needs an object).
func rpcData(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	var v any
	if err := decodeJSON(raw, &v); err != nil {
		return nil, fmt.Errorf("params: %v", err)
	}
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	return map[string]any{"value": v}, nil
}

// scalar reads a "key=value;" value: integer, float, bool or string.
func scalar(s string) any {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return json.Number(strconv.FormatInt(i, 10))
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return json.Number(s)
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

// wholeNumbers turns a whole float64 (how attribute values arrive from
// JSON) into an integer: ThingsBoard's 5 is an integer for the encoder.
func wholeNumbers(v any) any {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return v
}

// merge overlays the entry's keys present in the RPC params, as upstream
// does with overrideRpcConfig.
func (c *Connector) merge(dl *downlink, data map[string]any, strict bool) (*downlink, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	cfg := dl.cfg
	if err := decodeJSON(b, &cfg); err != nil {
		return nil, fmt.Errorf("params: %v", err)
	}
	out := &downlink{cfg: cfg, fd: cfg.IsFD, brs: cfg.BitrateSwitch && cfg.IsFD}
	if cfg.NodeID != nil {
		limit := int64(0x7ff)
		if cfg.IsExtendedID {
			limit = 0x1fffffff
		}
		if *cfg.NodeID < 0 || *cfg.NodeID > limit {
			return nil, fmt.Errorf("nodeId %d is outside 0..%d", *cfg.NodeID, limit)
		}
		out.route, out.hasID = route{id: uint32(*cfg.NodeID), ext: cfg.IsExtendedID}, true
	}
	out.enc, out.encErr = newEncoder(&cfg, strict)
	return out, nil
}

// send encodes data with dl, or with the device's downlink converter
// (called with pyCfg and pyData), and writes the frame.
func (c *Connector) send(ctx context.Context, d *device, dl *downlink, data map[string]any, pyCfg map[string]any, pyData any) error {
	payload, err := c.payload(d, dl, data, pyCfg, pyData)
	if err != nil {
		return err
	}
	f, err := c.frame(dl, payload)
	if err != nil {
		return err
	}
	conn := c.conn.Load()
	if conn == nil {
		return fmt.Errorf("CAN bus %s is not connected", c.plan.channel)
	}
	if err := conn.Write(ctx, &f); err != nil {
		return err
	}
	c.stats.Add("framesSent", 1)
	c.log.Debug("frame sent", "device", d.name, "frame", f.String())
	return nil
}

// payload is the frame data of a downlink.
func (c *Connector) payload(d *device, dl *downlink, data map[string]any, pyCfg map[string]any, pyData any) ([]byte, error) {
	if d.pyDown != nil {
		if pyCfg == nil {
			pyCfg = map[string]any{}
		}
		return pyPayload(d, pyCfg, pyData)
	}
	if dl.encErr != nil {
		return nil, dl.encErr
	}
	return dl.enc.Encode(data)
}

// frame builds the frame of a downlink.
func (c *Connector) frame(dl *downlink, payload []byte) (socketcan.Frame, error) {
	if !dl.hasID {
		return socketcan.Frame{}, errors.New("no nodeId")
	}
	if dl.fd && !c.plan.fd {
		return socketcan.Frame{}, errors.New(`CAN FD frames need "backend": {"fd": true}`)
	}
	return socketcan.NewFrame(dl.route.id, dl.route.ext, dl.fd, dl.brs, payload)
}
