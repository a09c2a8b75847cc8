package bacnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

// device returns the live device of that name.
func (c *Connector) deviceByName(name string) (*device, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil, errNotRunning
	}
	d := c.byName[name]
	if d == nil {
		return nil, fmt.Errorf("device %q is not discovered (yet)", name)
	}
	return d, nil
}

// SharedAttributeKeys lists the keys of a device's attributeUpdates.
func (c *Connector) SharedAttributeKeys(name string) []string {
	c.mu.Lock()
	d := c.byName[name]
	c.mu.Unlock()
	if d == nil {
		return nil
	}
	var keys []string
	for _, w := range d.plan.writes {
		keys = append(keys, w.key)
	}
	return keys
}

// OnAttributes writes shared attribute updates that attributeUpdates map.
func (c *Connector) OnAttributes(ctx context.Context, name string, values map[string]any) error {
	d, err := c.deviceByName(name)
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range d.plan.writes {
		v, ok := values[w.key]
		if !ok {
			continue
		}
		if err := c.write(ctx, d, w.obj, w.prop, v, w.priority); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.key, err))
			continue
		}
		c.counters.Add("writes", 1)
	}
	return errors.Join(errs...)
}

// write converts v and writes it with WriteProperty (priority 0: none).
// Where the property's type is not known from its object type, the
// current value is read first and its type is used.
func (c *Connector) write(ctx context.Context, d *device, obj bacnet.ObjectID, prop bacnet.PropertyID, v any, priority uint8) error {
	cl, ok := c.live()
	if !ok {
		return errNotRunning
	}
	var like bacnet.Value
	if propertyKind(obj.Type, prop) < 0 && v != nil {
		if vals, err := c.readProperty(ctx, d.target(), obj, prop, bacnet.NoIndex); err == nil && len(vals) == 1 {
			like = vals[0]
		}
	}
	val, err := writeValue(obj, prop, v, like)
	if err != nil {
		return fmt.Errorf("device %s %s %s: %w", d.name, obj, prop, err)
	}
	data, err := bacnet.AppendWriteProperty(nil, bacnet.WriteProperty{Object: obj, Property: prop, Index: bacnet.NoIndex,
		Value: []bacnet.Value{val}, Priority: priority})
	if err != nil {
		return err
	}
	if _, err := cl.request(ctx, d.target(), bacnet.ServiceWriteProperty, data); err != nil {
		return fmt.Errorf("device %s: write %s %s: %w", d.name, obj, prop, err)
	}
	return nil
}

// OnRPC serves the reserved get/set methods and the configured
// serverSideRpc methods.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Device == "" {
		return nil, fmt.Errorf("bacnet: connector-level RPC %q is not supported; send it to a device", req.Method)
	}
	d, err := c.deviceByName(req.Device)
	if err != nil {
		return nil, err
	}
	switch req.Method {
	case "get", "set":
		return c.reservedRPC(ctx, d, req)
	}
	r := d.plan.rpcs[req.Method]
	if r == nil {
		return nil, fmt.Errorf("no serverSideRpc method %q for device %s", req.Method, d.name)
	}
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	if !r.write {
		return c.rpcRead(ctx, d, r.obj, r.prop)
	}
	var v any
	if len(req.Params) > 0 {
		if err := json.Unmarshal(req.Params, &v); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
	}
	if m, ok := v.(map[string]any); ok {
		if x, has := m["value"]; has {
			v = x
		}
	}
	if err := c.write(ctx, d, r.obj, r.prop, v, r.priority); err != nil {
		return nil, err
	}
	c.counters.Add("writes", 1)
	return map[string]any{"result": map[string]any{"value": v}}, nil
}

func (c *Connector) rpcRead(ctx context.Context, d *device, obj bacnet.ObjectID, prop bacnet.PropertyID) (any, error) {
	vals, err := c.readProperty(ctx, d.target(), obj, prop, bacnet.NoIndex)
	if err != nil {
		return nil, fmt.Errorf("device %s: read %s %s: %w", d.name, obj, prop, err)
	}
	v, ok := datapoint(prop, vals)
	if !ok {
		v = nil
	}
	return map[string]any{"result": map[string]any{"value": v}}, nil
}

const (
	getSchema = "get objectType=<objectType>;objectId=<objectId>;propertyId=<propertyId>;"
	setSchema = "set objectType=<objectType>;objectId=<objectId>;propertyId=<propertyId>;priority=<priority>;value=<value>;"
)

// reservedRPC serves upstream's `get`/`set` with key=value; params.
func (c *Connector) reservedRPC(ctx context.Context, d *device, req connector.RPC) (any, error) {
	schema := getSchema
	if req.Method == "set" {
		schema = setSchema
	}
	p, err := rpcparams.FromJSON(req.Params, "value")
	if err != nil || p.Len() == 0 {
		return nil, fmt.Errorf("no params section found in RPC request; expected %s", schema)
	}
	need := []string{"objectType", "objectId", "propertyId"}
	if req.Method == "set" {
		need = append(need, "value")
	}
	for _, k := range need {
		v, ok := p.Get(k)
		if !ok || v == "" || strings.TrimSpace(v) != v {
			return nil, fmt.Errorf("the requested RPC does not match the schema: %s", schema)
		}
	}
	t, err := bacnet.ParseObjectType(p.String("objectType", ""))
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseUint(p.String("objectId", ""), 10, 32)
	if err != nil || id > bacnet.MaxInstance {
		return nil, fmt.Errorf("objectId must be an instance number 0-%d", bacnet.MaxInstance)
	}
	prop, err := bacnet.ParsePropertyID(p.String("propertyId", ""))
	if err != nil {
		return nil, err
	}
	obj := bacnet.ObjectID{Type: t, Instance: uint32(id)}
	if req.Method == "get" {
		return c.rpcRead(ctx, d, obj, prop)
	}
	var priority uint8
	if s, ok := p.Get("priority"); ok && s != "" {
		v, err := strconv.ParseUint(s, 10, 8)
		if err != nil || v < 1 || v > 16 {
			return nil, fmt.Errorf("priority must be 1-16, got %q", s)
		}
		priority = uint8(v)
	}
	val := p.String("value", "")
	if err := c.write(ctx, d, obj, prop, val, priority); err != nil {
		return nil, err
	}
	c.counters.Add("writes", 1)
	return map[string]any{"result": map[string]any{"value": val}}, nil
}
