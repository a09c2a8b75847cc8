package ble

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

// OnRPC serves device RPCs: the serverSideRpc methods (read, write, scan)
// and the reserved get/set with "characteristicUUID=...;[value=...;]".
// A connector RPC "scan" lists the advertisers seen (MAC → name).
func (c *Conn) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Device == "" {
		if !c.running.Load() {
			return nil, fmt.Errorf("ble connector is not running")
		}
		if req.Method == "scan" {
			return c.seenMap(""), nil
		}
		return nil, fmt.Errorf("unknown connector method %q", req.Method)
	}
	d, err := c.device(req.Device)
	if err != nil {
		return nil, err
	}
	switch req.Method {
	case "get", "set":
		p, err := rpcparams.FromJSON(req.Params, "value")
		if err != nil {
			return nil, err
		}
		s, ok := p.Get("characteristicUUID")
		if !ok {
			return nil, fmt.Errorf("%s: characteristicUUID is required, e.g. characteristicUUID=00002A00-0000-1000-8000-00805F9B34FB;", req.Method)
		}
		u, err := att.ParseUUID(s)
		if err != nil {
			return nil, err
		}
		if req.Method == "get" {
			return d.rpcRead(ctx, u)
		}
		v, ok := p.Get("value")
		if !ok {
			return nil, fmt.Errorf("set: value is required")
		}
		if err := d.write(ctx, u, []byte(v), true); err != nil {
			return nil, err
		}
		return "Ok", nil
	}
	for _, r := range d.spec.rpcs {
		if r.method != req.Method {
			continue
		}
		var res any
		switch r.processing {
		case "read":
			if res, err = d.rpcRead(ctx, r.uuid); err != nil {
				return nil, err
			}
		case "write":
			if err := d.write(ctx, r.uuid, []byte(paramText(req.Params)), r.withResponse); err != nil {
				return nil, err
			}
			res = "Ok"
		case "scan":
			cl, err := d.connected(ctx)
			if err != nil {
				return nil, err
			}
			res = d.gattMap(ctx, cl)
		}
		if !r.withResponse {
			return nil, nil
		}
		return res, nil
	}
	return nil, fmt.Errorf("RPC method %q is not configured for device %q", req.Method, req.Device)
}

func (d *device) rpcRead(ctx context.Context, u att.UUID) (any, error) {
	v, err := d.read(ctx, u)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(v) {
		return nil, fmt.Errorf("value % x is not UTF-8 text", v)
	}
	return string(v), nil
}

// paramText is the RPC params as upstream writes them: str(params), so a
// JSON string without quotes and anything else as its JSON text.
func paramText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		return pyStr(v)
	}
	return strings.TrimSpace(string(raw))
}

// pyStr renders a JSON value as Python's str() would for the values
// ThingsBoard sends: True/False, integers without a fraction, floats in
// shortest form with ".0" for whole values written as floats.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
