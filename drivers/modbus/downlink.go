package modbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/tbgw/tbgw/codec/conf"
	mb "github.com/tbgw/tbgw/codec/modbus"
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

// OnAttributes writes shared attribute updates whose keys match the
// device's attributeUpdates tags, each within 5 seconds.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	defer c.idleClose()
	d := c.byName[device]
	if d == nil {
		return fmt.Errorf("modbus: device %q not found", device)
	}
	if len(d.def.writes) == 0 {
		c.log.Debug("no attributeUpdates configured", "device", device)
		return nil
	}
	var errs []error
	for i := range d.def.writes {
		t := &d.def.writes[i]
		v, ok := values[t.Key]
		if !ok {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, attributeUpdateTimeout)
		err := d.writeTag(wctx, t, v)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("modbus: device %q attribute %q: %w", device, t.Key, err))
			continue
		}
		d.log.Debug("attribute written", "key", t.Key)
	}
	return errors.Join(errs...)
}

// RPC reply shapes of the upstream connector.
func valueReply(v any) any { return map[string]any{"result": map[string]any{"value": v}} }
func errorReply(msg string) any {
	return map[string]any{"result": map[string]any{"error": msg}}
}

// OnRPC serves a device RPC (method = an rpc tag), the reserved get/set
// RPCs, and connector RPCs (Device empty).
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	defer c.idleClose()
	if req.Device == "" {
		return c.connectorRPC(ctx, req)
	}
	d := c.byName[req.Device]
	if d == nil {
		return nil, fmt.Errorf("modbus: device %s not found in connector %s", req.Device, c.env.Name)
	}
	switch strings.ToLower(req.Method) {
	case "get", "set":
		return c.reservedRPC(ctx, d, req)
	}
	var t *mb.Tag
	for i := range d.def.rpcs {
		if d.def.rpcs[i].Key == req.Method {
			t = &d.def.rpcs[i]
			break
		}
	}
	if t == nil {
		return errorReply("Method not found for " + req.Method), nil
	}
	params, err := mb.ParseValue(paramsOrNull(req.Params))
	if err != nil {
		return errorReply(err.Error()), nil
	}
	return d.rpc(ctx, t, params, rawParams(req.Params)), nil
}

func paramsOrNull(p json.RawMessage) []byte {
	if len(p) == 0 {
		return []byte("null")
	}
	return p
}

func rawParams(p json.RawMessage) any {
	if len(p) == 0 {
		return nil
	}
	return json.RawMessage(p)
}

// rpc executes an RPC tag: a read replies the decoded value, a write the
// value written ({"result":{"value":...}}), a failure {"result":{"error":...}}.
func (d *device) rpc(ctx context.Context, t *mb.Tag, value any, echo any) any {
	v, err := d.exec(ctx, t, value, echo)
	switch {
	case err == nil:
		return valueReply(v)
	case errors.Is(err, context.DeadlineExceeded):
		d.log.Warn("rpc timed out", "key", t.Key)
		return errorReply("Timeout rpc has been reached for " + d.def.name)
	default:
		d.log.Warn("rpc failed", "key", t.Key, "err", err)
		return errorReply(err.Error())
	}
}

func (d *device) exec(ctx context.Context, t *mb.Tag, value any, echo any) (any, error) {
	if mb.IsRead(t.Function) {
		return d.readTag(ctx, t)
	}
	if err := d.writeTag(ctx, t, value); err != nil {
		return nil, err
	}
	return echo, nil
}

// The reserved RPC grammar of the upstream connector.
const (
	rpcTypes     = `string|bytes|bits|16int|16uint|16float|32int|32uint|32float|64int|64uint|64float`
	getSchema    = "get type=<type>;functionCode=<functionCode>;objectsCount=<objectsCount>;address=<address>;"
	setSchema    = "set type=<type>;functionCode=<functionCode>;objectsCount=<objectsCount>;address=<address>;value=<value>;"
	schemaErrFmt = "The requested RPC either does not match with the schema %s or incorrect value/values provided"
)

var (
	getPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^type=(?:` + rpcTypes + `);functionCode=[1-4];objectsCount=\d+;address=\d+;`)
	})
	setPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^type=(?:` + rpcTypes + `);functionCode=(?:5|6|15|16);objectsCount=\d+;address=\d+;value=.+;$`)
	})
)

// reservedRPC serves "get" and "set" with their key=value; parameter
// string, validated like upstream.
func (c *Connector) reservedRPC(ctx context.Context, d *device, req connector.RPC) (any, error) {
	method := strings.ToLower(req.Method)
	pattern, schema := getPattern, getSchema
	if method == "set" {
		pattern, schema = setPattern, setSchema
	}
	var s string
	if json.Unmarshal(req.Params, &s) != nil || !pattern().MatchString(s) {
		return nil, fmt.Errorf(schemaErrFmt, schema)
	}
	// The pattern checked the grammar and the numbers.
	p := rpcparams.Parse(s, "value")
	value, _ := p.Get("value")
	fc, _ := p.Int("functionCode", 0)
	count, _ := p.Int("objectsCount", 0)
	addr, _ := p.Int("address", 0)
	typ, _ := p.Get("type")
	t, err := adHocTag(typ, int(fc), int(count), int(addr))
	if err != nil {
		return errorReply(err.Error()), nil
	}
	if method == "set" {
		return d.rpc(ctx, &t, value, value), nil
	}
	return d.rpc(ctx, &t, nil, nil), nil
}

// adHocTag builds the tag of a reserved or connector RPC.
func adHocTag(typ string, fc, count, addr int) (mb.Tag, error) {
	if count < 1 {
		count = 1
	}
	t := mb.Tag{Key: "rpc", Function: byte(fc), Count: count, Bit: -1, Round: 6}
	switch {
	case addr < 0 || addr > 65535:
		return t, fmt.Errorf("address %d out of range", addr)
	case fc < 1 || (fc > 6 && fc != 15 && fc != 16):
		return t, fmt.Errorf("unsupported function code %d", fc)
	case mb.IsRead(byte(fc)) && count > mb.MaxRead(byte(fc)):
		return t, fmt.Errorf("function %d reads at most %d objects", fc, mb.MaxRead(byte(fc)))
	}
	t.Address = uint16(addr)
	k, err := mb.ParseType(typ, count)
	if err != nil {
		return t, err
	}
	t.Kind = k
	return t, nil
}

// unsupportedFunction is upstream's reply text for a function code an RPC
// cannot use.
const unsupportedFunction = "Unsupported function code in RPC request."

// rpcFunction tells whether an RPC may use function code fc.
func rpcFunction(fc int) bool {
	switch fc {
	case 1, 2, 3, 4, 5, 6, 15, 16:
		return true
	}
	return false
}

// connectorParams are the parameters of a connector RPC.
type connectorParams struct {
	FunctionCode int             `json:"functionCode"`
	Address      int             `json:"address"`
	ObjectsCount int             `json:"objectsCount"`
	Type         string          `json:"type"`
	Value        json.RawMessage `json:"value"`
	Host         string          `json:"host"`
	Port         json.RawMessage `json:"port"`
	UnitID       *int            `json:"unitId"`
}

// connectorRPC serves "modbus_<name>" sent to the gateway: the operation
// described by params runs on every configured device, or, when params
// name host/port/unitId, on that ad-hoc device. The reply is a list with
// one result per device.
func (c *Connector) connectorRPC(ctx context.Context, req connector.RPC) (any, error) {
	var p connectorParams
	if err := json.Unmarshal(paramsOrNull(req.Params), &p); err != nil {
		return nil, fmt.Errorf("modbus: connector rpc params: %w", err)
	}
	if !rpcFunction(p.FunctionCode) && p.Host == "" && len(p.Port) == 0 && p.UnitID == nil {
		// As upstream: every device answers, each with the same error.
		results := make([]any, 0, len(c.devices))
		for _, d := range c.devices {
			results = append(results, map[string]any{"error": unsupportedFunction, "device_name": d.def.name})
		}
		return results, nil
	}
	t, err := adHocTag(p.Type, p.FunctionCode, p.ObjectsCount, p.Address)
	if err != nil {
		return nil, fmt.Errorf("modbus: connector rpc: %w", err)
	}
	var value any
	if len(p.Value) > 0 {
		if value, err = mb.ParseValue(p.Value); err != nil {
			return nil, fmt.Errorf("modbus: connector rpc value: %w", err)
		}
	}
	echo := rawParams(p.Value)
	one := func(d *device) map[string]any {
		v, err := d.exec(ctx, &t, value, echo)
		switch {
		case err == nil:
			return map[string]any{"result": v, "device_name": d.def.name}
		case errors.Is(err, context.DeadlineExceeded):
			return map[string]any{"error": "Timeout rpc has been reached for " + d.def.name}
		default:
			return map[string]any{"result": map[string]any{"error": err.Error()}, "device_name": d.def.name}
		}
	}
	if p.Host == "" && len(p.Port) == 0 && p.UnitID == nil {
		results := make([]any, 0, len(c.devices))
		for _, d := range c.devices {
			results = append(results, one(d))
		}
		return results, nil
	}
	// An ad-hoc device described by the params (upstream slave keys).
	d, err := c.adHocDevice(req.Params)
	if err != nil {
		return nil, fmt.Errorf("modbus: connector rpc: %w", err)
	}
	defer d.m.close()
	if err := d.m.connect(ctx, d.def.timeout); err != nil {
		return []any{map[string]any{"error": "Failed to connect to device " + d.def.name, "success": false}}, nil
	}
	return []any{one(d)}, nil
}

// adHocDevice compiles the slave keys of connector RPC params into a
// device with its own connection.
func (c *Connector) adHocDevice(raw json.RawMessage) (*device, error) {
	doc, err := conf.Parse("rpc params", raw)
	if err != nil {
		return nil, err
	}
	var s slaveConfig
	if _, err := doc.Decode(&s); err != nil {
		return nil, err
	}
	if s.PollPeriod == nil {
		pp := 1000.0
		s.PollPeriod = &pp
	}
	if s.DeviceName == "" {
		s.DeviceName = "Modbus RPC device"
	}
	if s.UnitID == nil {
		zero := 0
		s.UnitID = &zero
	}
	s.Attributes, s.Timeseries, s.AttributeUpdates, s.RPC = nil, nil, nil, nil
	s.UplinkConverter, s.DownlinkConverter = "", ""
	// "type" names the value type of the operation too (upstream uses the
	// one key for both); anything but a transport means TCP, or serial
	// when the port is a device path.
	switch strings.ToLower(s.Type) {
	case "tcp", "udp", "serial":
	default:
		s.Type = "tcp"
		if p := strings.TrimSpace(string(s.Port)); strings.HasPrefix(p, `"/`) {
			s.Type = "serial"
		}
	}
	cc := &compiler{doc: doc, warn: func(error) {}, note: func(error) {}, configDir: c.env.ConfigDir}
	def, err := cc.slave("", &s)
	if err != nil {
		return nil, err
	}
	return newDevice(def, newMaster(def.link, c.log, nil), c.log, c.env.Now), nil
}
