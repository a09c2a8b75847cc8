package opcua

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/gw/connector"
)

// writeTimeout bounds one attribute-update write (upstream: 5 s).
const writeTimeout = 5 * time.Second

var errNotConnected = errors.New("not connected to the OPC-UA server")

// SharedAttributeKeys lists the attributes_updates keys of a device.
func (c *Connector) SharedAttributeKeys(device string) []string {
	_, d := c.current(device)
	if d == nil {
		return nil
	}
	return append([]string(nil), d.m.updateKeys...)
}

// OnAttributes writes shared attribute updates whose key is listed in the
// device's attributes_updates to their nodes.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	s, d := c.current(device)
	if d == nil {
		return fmt.Errorf("opcua: attribute update for unknown device %q", device)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		r, ok := d.m.updates[k]
		if !ok {
			c.log.Debug("attribute not in attributes_updates, ignored", "device", device, "key", k)
			continue
		}
		if s == nil {
			errs = append(errs, fmt.Errorf("opcua: device %s: write %s: %w", device, k, errNotConnected))
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := func() error {
			node, err := s.resolveOne(wctx, r, d.node)
			if err != nil {
				return err
			}
			_, err = s.write(wctx, node, normNumber(values[k]))
			return err
		}()
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("opcua: device %s: write %s: %w", device, k, err))
			continue
		}
		c.log.Debug("attribute written", "device", device, "key", k)
	}
	return errors.Join(errs...)
}

// OnRPC serves device RPCs (rpc_methods calls, reserved get/set) and
// connector RPCs (opcua_<method>: the method called on every device).
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	params := decodeJSONValue(req.Params)
	if req.Device == "" {
		return c.connectorRPC(ctx, req.Method, params)
	}
	s, d := c.current(req.Device)
	if d == nil {
		return errResult("Device not found"), nil
	}
	method := strings.ToLower(req.Method)
	method = strings.TrimPrefix(method, "opcua_")
	if method == "get" || method == "set" {
		if s == nil {
			return errResult(errNotConnected.Error()), nil
		}
		v, err := c.reserved(ctx, s, d, method, params)
		if err != nil {
			c.log.Warn("rpc failed", "device", d.name, "method", req.Method, "err", err)
			return errResult(c.failText(ctx, d, err)), nil
		}
		return map[string]any{"result": map[string]any{"value": v}}, nil
	}
	spec, ok := d.m.methods[req.Method]
	if !ok {
		return errResult("Requested rpc method is not found in config"), nil
	}
	args, err := methodArgs(spec, params)
	if err != nil {
		// Upstream answers argument validation errors as a bare text.
		return map[string]any{"result": err.Error()}, nil
	}
	if s == nil {
		return errResult(errNotConnected.Error()), nil
	}
	out, err := c.call(ctx, s, d, spec, args)
	if err != nil {
		c.log.Warn("method call failed", "device", d.name, "method", req.Method, "err", err)
		return errResult(c.failText(ctx, d, err)), nil
	}
	return map[string]any{"result": map[string]any{"result": out}}, nil
}

// failText is the error text of a failed device RPC, worded as upstream:
// its timeout text when the request's deadline passed, a server status as
// "<description>(<name>)".
func (c *Connector) failText(ctx context.Context, d *device, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "Timeout rpc has been reached for " + d.name
	}
	return replyText(err)
}

func errResult(msg string) map[string]any {
	return map[string]any{"result": map[string]any{"error": msg}}
}

// reserved serves get (params: node id, configured key, or path) and set
// (params: "<target><sep><value>").
func (c *Connector) reserved(ctx context.Context, s *session, d *device, method string, params any) (any, error) {
	text, ok := params.(string)
	if !ok {
		return nil, fmt.Errorf("params of %s must be a string, got %s", method, jsonText(params))
	}
	var value string
	if method == "get" {
		text = strings.TrimRight(text, " ;\t\n\r")
	} else {
		var ok bool
		text, value, ok = parseSetParams(text)
		if !ok {
			return nil, errors.New(`set params must be "<node id or path>; <value>"`)
		}
	}
	node, err := c.target(ctx, s, d, text)
	if err != nil {
		return nil, err
	}
	if method == "get" {
		return s.readValue(ctx, node)
	}
	return s.write(ctx, node, guessCast(value))
}

// target resolves an RPC target: a node id, a configured datapoint key of
// the device, an absolute path or a path relative to the device node.
func (c *Connector) target(ctx context.Context, s *session, d *device, text string) (*ua.NodeID, error) {
	if !nodeIDPrefix().MatchString(unwrap(text)) {
		for _, bp := range d.points {
			if bp.spec.key == text {
				return bp.node, nil
			}
		}
	}
	r, err := parseTarget(text)
	if err != nil {
		return nil, err
	}
	return s.resolveOne(ctx, r, d.node)
}

// methodArgs picks the call arguments as upstream does: the configured
// values, or the request's params when the method has no configured
// arguments or the request gives all of them.
func methodArgs(spec *methodSpec, params any) ([]any, error) {
	if len(spec.args) == 0 {
		switch p := params.(type) {
		case nil:
			return nil, nil
		case []any:
			return p, nil
		default:
			return []any{p}, nil
		}
	}
	var configured []any
	for _, a := range spec.args {
		if truthy(a.value) {
			configured = append(configured, a.value)
		}
	}
	list, isList := params.([]any)
	if params != nil && !isList && truthy(params) {
		return nil, errors.New("The arguments must be specified in the square quotes []")
	}
	switch {
	case len(list) > 0 && len(list) == len(spec.args):
		return list, nil
	case len(configured) > 0 && len(configured) != len(spec.args):
		return nil, errors.New("You must either define values for arguments in config or along with rpc request")
	case len(list) > 0 && len(list) != len(spec.args), len(configured) == 0 && params == nil:
		return nil, fmt.Errorf("Expected %d arguments, but got %d", len(spec.args), len(list))
	}
	return configured, nil
}

// truthy is Python truthiness for JSON values.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// call calls a method of the device object: the child of the device node
// named <device namespace>:<method>.
func (c *Connector) call(ctx context.Context, s *session, d *device, spec *methodSpec, args []any) (any, error) {
	kids, err := s.browse(ctx, d.node)
	if err != nil {
		return nil, err
	}
	var method *ua.NodeID
	for _, i := range kids.byName[spec.name] {
		if k := kids.list[i]; method == nil || k.name.NamespaceIndex == d.node.Namespace() {
			method = k.id
		}
	}
	if method == nil {
		// Upstream resolves the method by browse name: no match.
		return nil, fmt.Errorf("method %s on %s: %w", spec.name, d.node, statusError(ua.StatusBadNoMatch))
	}
	defs := s.inputArguments(ctx, method)
	in := make([]*ua.Variant, len(args))
	for i, a := range args {
		var v *ua.Variant
		var err error
		switch {
		case i < len(defs) && defs[i].typ != 0:
			v, err = toVariant(defs[i].typ, defs[i].array, a)
		case i < len(spec.args) && configType(spec.args[i].typ) != 0:
			v, err = toVariant(configType(spec.args[i].typ), false, a)
		default:
			v, err = guessVariant(a)
		}
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		in[i] = v
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := s.cl.Call(rctx, &ua.CallMethodRequest{ObjectID: d.node, MethodID: method, InputArguments: in})
	if err != nil {
		return nil, err
	}
	if isBad(res.StatusCode) {
		for i, st := range res.InputArgumentResults {
			if isBad(st) {
				return nil, fmt.Errorf("%w (argument %d: %s)", statusError(res.StatusCode), i+1, statusName(st))
			}
		}
		return nil, statusError(res.StatusCode)
	}
	switch len(res.OutputArguments) {
	case 0:
		return nil, nil
	case 1:
		return variantValue(res.OutputArguments[0]), nil
	}
	out := make([]any, len(res.OutputArguments))
	for i, v := range res.OutputArguments {
		out[i] = variantValue(v)
	}
	return out, nil
}

// inputArguments reads a method's InputArguments property; nil when it has
// none or it cannot be read.
func (s *session) inputArguments(ctx context.Context, method *ua.NodeID) []typeInfo {
	kids, err := s.browse(ctx, method)
	if err != nil {
		return nil
	}
	for _, i := range kids.byName["InputArguments"] {
		k := kids.list[i]
		if k.name.NamespaceIndex != 0 {
			continue
		}
		res, err := s.read(ctx, []*ua.NodeID{k.id})
		if err != nil || len(res) != 1 || res[0].Value == nil {
			return nil
		}
		eos, _ := res[0].Value.Value().([]*ua.ExtensionObject)
		out := make([]typeInfo, len(eos))
		for i, eo := range eos {
			if eo == nil {
				continue
			}
			a, ok := eo.Value.(*ua.Argument)
			if !ok || a.DataType == nil || a.DataType.Namespace() != 0 || a.DataType.IntID() < 1 || a.DataType.IntID() > 25 {
				continue
			}
			out[i] = typeInfo{typ: ua.TypeID(a.DataType.IntID()), array: a.ValueRank >= 1}
		}
		return out
	}
	return nil
}

// configType maps an rpc_methods argument "type" to a built-in type.
func configType(t string) ua.TypeID {
	switch strings.ToLower(t) {
	case "integer", "int", "int32":
		return ua.TypeIDInt32
	case "long", "int64":
		return ua.TypeIDInt64
	case "double", "float", "number":
		return ua.TypeIDDouble
	case "boolean", "bool":
		return ua.TypeIDBoolean
	case "string", "str":
		return ua.TypeIDString
	}
	return 0
}

// connectorRPC calls a method on every device (upstream "opcua_<method>"
// with params {"arguments":[{"value":…},…]}) and returns one result per
// device.
func (c *Connector) connectorRPC(ctx context.Context, method string, params any) (any, error) {
	var args []any
	if p, ok := params.(map[string]any); ok {
		list, _ := p["arguments"].([]any)
		for _, a := range list {
			if m, ok := a.(map[string]any); ok {
				args = append(args, m["value"])
			} else {
				args = append(args, a)
			}
		}
	} else if list, ok := params.([]any); ok {
		args = list
	}
	c.mu.RLock()
	s := c.sess
	devs := make([]*device, 0, len(c.devices))
	for _, d := range c.devices {
		devs = append(devs, d)
	}
	c.mu.RUnlock()
	if s == nil {
		return nil, errNotConnected
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].name < devs[j].name })
	results := make([]any, 0, len(devs))
	for _, d := range devs {
		if ctx.Err() != nil {
			results = append(results, map[string]any{"error": "Timeout rpc has been reached for " + d.name})
			continue
		}
		out, err := c.call(ctx, s, d, &methodSpec{name: method}, args)
		if err != nil {
			results = append(results, map[string]any{"error": replyText(err), "device_name": d.name})
			continue
		}
		results = append(results, map[string]any{"result": out, "device_name": d.name})
	}
	return results, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
