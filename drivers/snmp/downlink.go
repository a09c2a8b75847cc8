package snmp

import (
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/gw/connector"
)

// exec runs fn against device d on a socket of its own, holding the device
// lock (a poll in progress finishes first). ctx bounds the whole call.
func (c *Connector) exec(ctx context.Context, d *device, fn func(*session) (any, error)) (any, error) {
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	ap, err := d.resolve(ctx, c.env.Now())
	if err != nil {
		return nil, err
	}
	w := &worker{}
	stop := context.AfterFunc(ctx, w.socks.stop)
	defer func() {
		stop()
		w.socks.close()
	}()
	s, err := w.socks.get(ap.Addr())
	if err != nil {
		return nil, err
	}
	e, err := getEngine()
	if err != nil {
		return nil, err
	}
	defer putEngine(e)
	sess, err := d.session(ctx, e, ap, s)
	if err != nil {
		return nil, err
	}
	v, err := fn(sess)
	sess.end()
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return v, err
}

// OnAttributes writes shared attribute updates: every attributeUpdateRequests
// entry whose attributeFilter matches an attribute name (the whole name, as
// a regular expression) runs its set or multiset with the new value.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	d := c.byName[device]
	if d == nil {
		return fmt.Errorf("snmp: device %q is not configured", device)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	matched := false
	for _, w := range d.writes {
		for _, k := range keys {
			if !w.filter.FullMatch(k) {
				continue
			}
			matched = true
			v := values[k]
			_, err := c.exec(ctx, d, func(s *session) (any, error) { return s.write(&w.op, k, v) })
			if err != nil {
				errs = append(errs, fmt.Errorf("snmp: device %s: attribute %s: %s: %w", d.name, k, w.op.method, err))
				continue
			}
			c.log.Debug("attribute written", "device", d.name, "key", k, "method", w.op.method)
		}
	}
	if !matched {
		c.log.Debug("no attributeUpdateRequests entry matches", "device", d.name, "keys", keys)
	}
	return errors.Join(errs...)
}

// OnRPC serves a device RPC: the reserved methods get and set with
// "key=value;" parameters, or the first serverSideRpcRequests entry whose
// requestFilter matches the method name. The reply is {"result": value}.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Device == "" {
		return nil, fmt.Errorf("snmp: connector RPC %q: not supported, send RPCs to a device", req.Method)
	}
	d := c.byName[req.Device]
	if d == nil {
		return nil, fmt.Errorf("snmp: device %q is not configured", req.Device)
	}
	var (
		v   any
		err error
	)
	switch req.Method {
	case "get", "set":
		v, err = c.reservedRPC(ctx, d, req)
	default:
		var r *request
		for _, x := range d.rpcs {
			if x.filter.FullMatch(req.Method) {
				r = x
				break
			}
		}
		if r == nil {
			return nil, fmt.Errorf("snmp: device %s: no serverSideRpcRequests entry matches method %q", d.name, req.Method)
		}
		v, err = c.configuredRPC(ctx, d, r, req)
	}
	if err != nil {
		return nil, fmt.Errorf("snmp: device %s: rpc %s: %w", d.name, req.Method, err)
	}
	return map[string]any{"result": v}, nil
}

// decodeParams reads RPC params keeping numbers exact; null is nil.
func decodeParams(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return v, nil
}

func (c *Connector) configuredRPC(ctx context.Context, d *device, r *request, req connector.RPC) (any, error) {
	params, err := decodeParams(req.Params)
	if err != nil {
		return nil, err
	}
	o := r.op
	switch o.method {
	case "set":
		if m, ok := params.(map[string]any); ok {
			if v, ok := m["value"]; ok {
				params = v
			}
		}
		return c.exec(ctx, d, func(s *session) (any, error) { return s.write(&o, req.Method, params) })
	case "multiset":
		if len(o.mappings) == 0 {
			m, ok := params.(map[string]any)
			if !ok || len(m) == 0 {
				return nil, errors.New(`multiset needs "mappings" in the config or params {"<oid>": value, ...}`)
			}
			if o.mappings, err = paramMappings(m); err != nil {
				return nil, err
			}
		}
		return c.exec(ctx, d, func(s *session) (any, error) { return s.write(&o, req.Method, params) })
	}
	return c.exec(ctx, d, func(s *session) (any, error) { return s.read(&o) })
}

func paramMappings(m map[string]any) ([]mapping, error) {
	out := make([]mapping, 0, len(m))
	for k, v := range m {
		oid, err := canonOID(k)
		if err != nil {
			return nil, err
		}
		out = append(out, mapping{oid: oid, value: v})
	}
	sort.Slice(out, func(i, j int) bool { return oidLess(out[i].oid, out[j].oid) })
	return out, nil
}

// reservedRPC serves get and set whose params describe the operation:
// "method=<snmp method>;oid=<oid>[,<oid>...];value=<v>;type=<t>;community=<c>;timeout=<s>;"
// (a JSON object with the same keys works too). method defaults to the RPC
// name.
func (c *Connector) reservedRPC(ctx context.Context, d *device, req connector.RPC) (any, error) {
	params, err := decodeParams(req.Params)
	if err != nil {
		return nil, err
	}
	var kv map[string]string
	switch p := params.(type) {
	case string:
		kv = rpcparams.Parse(p).Map()
	case map[string]any:
		kv = map[string]string{}
		for k, v := range p {
			kv[k] = valueText(jsonScalar(v))
		}
	default:
		return nil, errors.New(`params must be "method=...;oid=...;value=...;" or an object`)
	}
	o, err := reservedOp(kv, req.Method, d)
	if err != nil {
		return nil, err
	}
	switch o.method {
	case "set", "multiset":
		if o.method == "multiset" {
			return nil, errors.New("multiset is not available through the reserved set; configure a serverSideRpcRequests entry")
		}
		val, ok := kv["value"]
		if !ok {
			return nil, errors.New("set needs value=...")
		}
		return c.exec(ctx, d, func(s *session) (any, error) { return s.write(&o, req.Method, val) })
	}
	return c.exec(ctx, d, func(s *session) (any, error) { return s.read(&o) })
}

func jsonScalar(v any) any {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return v
}

// reservedOp builds the operation a reserved get/set describes.
func reservedOp(kv map[string]string, rpc string, d *device) (op, error) {
	o := op{method: strings.ToLower(kv["method"]), community: d.community, timeout: d.timeout,
		bulk: defaultBulkSize, maxList: defaultMaxListSize, valueType: kv["type"]}
	if o.method == "" {
		o.method = rpc
	}
	m, ok := methods[o.method]
	if !ok {
		return o, fmt.Errorf("unknown method %q", o.method)
	}
	if rpc == "get" && !m.read {
		return o, fmt.Errorf("get cannot run %s; use set", o.method)
	}
	if o.method == "bulkget" {
		return o, errors.New("bulkget is not available through the reserved get; configure a serverSideRpcRequests entry")
	}
	for _, s := range strings.Split(kv["oid"], ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		oid, err := canonOID(s)
		if err != nil {
			return o, err
		}
		o.oids = append(o.oids, oid)
	}
	if m.needOID && len(o.oids) == 0 {
		return o, errors.New("oid=... is required")
	}
	if o.valueType != "" && !validType(o.valueType) {
		return o, fmt.Errorf("unknown value type %q", o.valueType)
	}
	if s, ok := kv["community"]; ok {
		o.community = s
	}
	if s, ok := kv["timeout"]; ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return o, fmt.Errorf("timeout: %v", err)
		}
		if o.timeout, err = seconds(f); err != nil {
			return o, fmt.Errorf("timeout: %v", err)
		}
	}
	switch strings.ToLower(kv["octetString"]) {
	case "text":
		o.octets = octetText
	case "hex":
		o.octets = octetHex
	}
	return o, nil
}

// oidLess orders canonical OIDs arc by arc.
func oidLess(a, b string) bool {
	as, bs := strings.Split(plainOID(a), "."), strings.Split(plainOID(b), ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.ParseUint(as[i], 10, 64)
		y, _ := strconv.ParseUint(bs[i], 10, 64)
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}
