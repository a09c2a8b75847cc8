package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Uplink converts one raw device message into device data. topic is the
// message's origin where the protocol has one (MQTT topic, HTTP path, ...),
// nowMs the receive time in Unix milliseconds. Implementations are safe
// for concurrent use. A nil error with no data means "nothing to send".
type Uplink interface {
	Convert(topic string, payload []byte, nowMs int64) ([]Data, error)
}

// DownlinkRequest is an attribute update or an RPC on its way to a device.
type DownlinkRequest struct {
	Device string
	// Attribute update: one key and its new value (data-model or
	// encoding/json value).
	Key   string
	Value any
	// RPC: method, request id and params as received (JSON).
	Method    string
	RequestID int64
	Params    json.RawMessage
}

// Downlink turns a DownlinkRequest into the bytes to write to the device.
// Implementations are safe for concurrent use.
type Downlink interface {
	Convert(req *DownlinkRequest) ([]byte, error)
}

// UplinkFactory builds an Uplink from the converter's own configuration
// (upstream "extensionConfig").
type UplinkFactory func(cfg json.RawMessage) (Uplink, error)

// DownlinkFactory builds a Downlink from its configuration.
type DownlinkFactory func(cfg json.RawMessage) (Downlink, error)

var reg struct {
	sync.RWMutex
	up   map[string]UplinkFactory
	down map[string]DownlinkFactory
}

// RegisterUplink makes a custom uplink converter available under name,
// the value of "extension" (or "uplink_converter") in a "type": "custom"
// converter block. Call it from an init function; it panics if name is
// empty or taken.
func RegisterUplink(name string, f UplinkFactory) {
	reg.Lock()
	defer reg.Unlock()
	if name == "" || f == nil {
		panic("codec: RegisterUplink with empty name or nil factory")
	}
	if _, dup := reg.up[name]; dup {
		panic("codec: uplink converter " + name + " registered twice")
	}
	if reg.up == nil {
		reg.up = map[string]UplinkFactory{}
	}
	reg.up[name] = f
}

// RegisterDownlink is RegisterUplink for downlink converters.
func RegisterDownlink(name string, f DownlinkFactory) {
	reg.Lock()
	defer reg.Unlock()
	if name == "" || f == nil {
		panic("codec: RegisterDownlink with empty name or nil factory")
	}
	if _, dup := reg.down[name]; dup {
		panic("codec: downlink converter " + name + " registered twice")
	}
	if reg.down == nil {
		reg.down = map[string]DownlinkFactory{}
	}
	reg.down[name] = f
}

// UplinkResolver builds uplink converters that are not registered by name
// (for example a Python converter class run by an extension host). It
// reports false for names it does not provide.
type UplinkResolver func(name string, cfg json.RawMessage) (Uplink, bool, error)

var resolvers struct {
	sync.RWMutex
	up []UplinkResolver
}

// RegisterUplinkResolver adds r, consulted by NewUplink for names without a
// registered factory, in registration order. Call it from an init function.
func RegisterUplinkResolver(r UplinkResolver) {
	resolvers.Lock()
	defer resolvers.Unlock()
	resolvers.up = append(resolvers.up, r)
}

// NewUplink builds the custom uplink converter registered as name.
func NewUplink(name string, cfg json.RawMessage) (Uplink, error) {
	reg.RLock()
	f := reg.up[name]
	reg.RUnlock()
	if f == nil {
		resolvers.RLock()
		rs := resolvers.up
		resolvers.RUnlock()
		for _, r := range rs {
			u, ok, err := r(name, cfg)
			if !ok {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("custom uplink converter %q: %w", name, err)
			}
			return u, nil
		}
		return nil, fmt.Errorf("custom uplink converter %q is not compiled in (have %v)", name, Uplinks())
	}
	u, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("custom uplink converter %q: %w", name, err)
	}
	return u, nil
}

// NewDownlink builds the custom downlink converter registered as name.
func NewDownlink(name string, cfg json.RawMessage) (Downlink, error) {
	reg.RLock()
	f := reg.down[name]
	reg.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("custom downlink converter %q is not compiled in (have %v)", name, Downlinks())
	}
	d, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("custom downlink converter %q: %w", name, err)
	}
	return d, nil
}

// Uplinks lists the registered uplink converter names, sorted.
func Uplinks() []string {
	reg.RLock()
	defer reg.RUnlock()
	return sortedKeys(reg.up)
}

// Downlinks lists the registered downlink converter names, sorted.
func Downlinks() []string {
	reg.RLock()
	defer reg.RUnlock()
	return sortedKeys(reg.down)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CallUplink is a custom uplink converter called in a connector's own
// convention rather than with a topic and a payload: upstream's connectors
// call their converter classes with connector-specific arguments (Modbus
// convert(config, data) with register responses, OPC-UA convert(configs,
// values), SNMP convert(device, responses), BACnet convert(items, values)).
// call names the convention ("modbus", "opcua", "snmp", "bacnet") and args
// carries its arguments as JSON in the shape the connector documents.
type CallUplink interface {
	ConvertCall(args json.RawMessage, nowMs int64) ([]Data, error)
}

// CallResolver builds a CallUplink for a converter name in the calling
// convention call, constructed with cfg (what upstream's connector passes
// to the converter class's constructor). It reports false for names it
// does not provide.
type CallResolver func(call, name string, cfg json.RawMessage) (CallUplink, bool, error)

var callResolvers struct {
	sync.RWMutex
	r []CallResolver
}

// RegisterCallResolver adds r, consulted by NewCallUplink in registration
// order. Call it from an init function.
func RegisterCallResolver(r CallResolver) {
	callResolvers.Lock()
	defer callResolvers.Unlock()
	callResolvers.r = append(callResolvers.r, r)
}

// NewCallUplink builds the custom converter name for a connector whose
// converters are called in convention call. A registered Go converter whose
// Uplink also implements CallUplink is used first; otherwise the resolvers
// (the Python extension host) are asked. The error says what is missing, so
// that a connector fails at start rather than at its first message.
func NewCallUplink(call, name string, cfg json.RawMessage) (CallUplink, error) {
	reg.RLock()
	f := reg.up[name]
	reg.RUnlock()
	if f != nil {
		u, err := f(cfg)
		if err != nil {
			return nil, fmt.Errorf("custom uplink converter %q: %w", name, err)
		}
		if cu, ok := u.(CallUplink); ok {
			return cu, nil
		}
		return nil, fmt.Errorf("custom uplink converter %q does not take %s calls", name, call)
	}
	callResolvers.RLock()
	rs := callResolvers.r
	callResolvers.RUnlock()
	for _, r := range rs {
		u, ok, err := r(call, name, cfg)
		if !ok {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("custom %s uplink converter %q: %w", call, name, err)
		}
		return u, nil
	}
	return nil, fmt.Errorf("custom %s uplink converter %q is neither compiled in (have %v) nor a Python class: %w", call, name, Uplinks(), ErrNoResolver)
}

// ErrNoResolver is wrapped by NewCallUplink's error when neither a Go
// converter nor a resolver (an installed extension host) provides the name.
var ErrNoResolver = errors.New("no extension host found")

// CallDownlink is a custom downlink converter called in a connector's own
// convention (upstream's Modbus connector calls its downlink converter
// class with convert(config, {"data": {"params": value}}) and writes what
// it returns). args and the result are JSON in the shapes the connector
// documents.
type CallDownlink interface {
	ConvertDownCall(args json.RawMessage) (json.RawMessage, error)
}

// ResultBytes reads a bytes or bytearray value in a converter's result as
// the extension host encodes it, {"bytes": "<base64>"}; ok is false for
// any other value.
func ResultBytes(v json.RawMessage) (b []byte, ok bool) {
	var x struct {
		Bytes []byte `json:"bytes"`
	}
	if json.Unmarshal(v, &x) != nil || x.Bytes == nil {
		return nil, false
	}
	return x.Bytes, true
}

// NewCallDownlink builds the downlink converter name in convention call
// through the resolvers (the Python extension host); the error wraps
// ErrNoResolver when none provides it.
func NewCallDownlink(call, name string, cfg json.RawMessage) (CallDownlink, error) {
	callResolvers.RLock()
	rs := callResolvers.r
	callResolvers.RUnlock()
	for _, r := range rs {
		u, ok, err := r(call, name, cfg)
		if !ok {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("custom %s converter %q: %w", call, name, err)
		}
		d, ok := u.(CallDownlink)
		if !ok {
			return nil, fmt.Errorf("custom %s converter %q is not a downlink converter", call, name)
		}
		return d, nil
	}
	return nil, fmt.Errorf("custom %s converter %q is not a Python class: %w", call, name, ErrNoResolver)
}
