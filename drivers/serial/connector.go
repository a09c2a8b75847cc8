package serial

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("serial", New) }

// Conn is a configured serial connector.
type Conn struct {
	env     connector.Env
	devs    []*device
	byName  map[string]*device
	running atomic.Bool

	counters struct {
		frames, writes, openErrors, portLost, convertErrors, oversize atomic.Uint64
	}
	send atomic.Pointer[kit.Sender]
}

// New builds the connector from its configuration file.
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	var cfg Config
	doc, err := kit.Setup("serial", raw, &env, &cfg)
	if err != nil {
		return nil, err
	}
	specs, err := compile(doc, &cfg)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	c := &Conn{env: env, byName: map[string]*device{}}
	for i, s := range specs {
		d := &device{spec: s, c: c, log: env.Log}
		if cfg.Devices[i].Rtscts || cfg.Devices[i].Dsrdtr || cfg.Devices[i].Xonxoff {
			env.Log.Warn("flow control (rtscts, dsrdtr, xonxoff) is not configured by tbgw; the port keeps its line settings", "device", s.name)
		}
		c.devs = append(c.devs, d)
		c.byName[s.name] = d
	}
	return c, nil
}

// Run opens every device's port and reads until ctx ends.
func (c *Conn) Run(ctx context.Context, sink connector.Sink) error {
	send := kit.NewSender(sink, c.env.Log)
	c.send.Store(send)
	g, ctx := kit.NewGroup(ctx)
	c.running.Store(true)
	defer c.running.Store(false)
	for _, d := range c.devs {
		g.Go("device "+d.spec.name, func() error { return d.run(ctx, sink, send) })
	}
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

var errStopped = errors.New("the serial connector is not running")

// OnAttributes writes each updated attribute's stringToDevice.
func (c *Conn) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	if !c.running.Load() {
		return errStopped
	}
	d, ok := c.byName[device]
	if !ok {
		return fmt.Errorf("unknown device %q", device)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	found := false
	for _, k := range keys {
		for _, au := range d.spec.attrUpdates {
			if au.AttributeOnPlatform != k {
				continue
			}
			found = true
			s := render(au.StringToDevice, k, values[k], d.spec.name, d.spec.typ)
			if _, err := d.write(ctx, []byte(s), nil, 0); err != nil {
				errs = append(errs, fmt.Errorf("device %s: attribute %s: %w", device, k, err))
			}
		}
	}
	if !found {
		return fmt.Errorf("device %s: no attributeUpdates entry for %v", device, keys)
	}
	return errors.Join(errs...)
}

// OnRPC serves the device RPCs listed in serverSideRpc.
func (c *Conn) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if !c.running.Load() {
		return nil, errStopped
	}
	if req.Device == "" {
		return nil, fmt.Errorf("the serial connector has no connector-level methods (got %q)", req.Method)
	}
	d, ok := c.byName[req.Device]
	if !ok {
		return nil, fmt.Errorf("unknown device %q", req.Device)
	}
	r, ok := d.spec.rpcs[req.Method]
	if !ok && (req.Method == "get" || req.Method == "set") {
		res, err := c.reserved(ctx, d, req)
		if err != nil {
			return nil, fmt.Errorf("device %s: serial_%s: %w", req.Device, req.Method, err)
		}
		return res, nil
	}
	if !ok {
		return nil, fmt.Errorf("device %s: method %q is not in serverSideRpc", req.Device, req.Method)
	}
	b, err := encodeParams(r.typ, req.Params, d.spec.bigEndian)
	if err != nil {
		return nil, fmt.Errorf("device %s: %s: %w", req.Device, req.Method, err)
	}
	if !r.response {
		if _, err := d.write(ctx, b, nil, 0); err != nil {
			return nil, fmt.Errorf("device %s: %s: %w", req.Device, req.Method, err)
		}
		return map[string]any{"success": true}, nil
	}
	w := &waiter{delim: r.respDel, ch: make(chan []byte, 1)}
	f, err := d.write(ctx, b, w, r.timeout)
	if err != nil {
		return nil, fmt.Errorf("device %s: %s: %w", req.Device, req.Method, err)
	}
	part, err := r.respCut.apply(f)
	if err == nil {
		var v any
		if v, err = parseValue(r.respType, trimSuffix(part, r.respDel)); err == nil {
			return map[string]any{"result": v}, nil
		}
	}
	return nil, fmt.Errorf("device %s: %s: response %q: %w", req.Device, req.Method, clip(f), err)
}

func trimSuffix(b, suf []byte) []byte {
	if len(b) >= len(suf) && string(b[len(b)-len(suf):]) == string(suf) {
		return b[:len(b)-len(suf)]
	}
	return b
}

// Stats reports the connector's counters.
func (c *Conn) Stats() map[string]uint64 {
	m := map[string]uint64{
		"frames":        c.counters.frames.Load(),
		"writes":        c.counters.writes.Load(),
		"openErrors":    c.counters.openErrors.Load(),
		"portLost":      c.counters.portLost.Load(),
		"convertErrors": c.counters.convertErrors.Load(),
		"oversize":      c.counters.oversize.Load(),
	}
	if s := c.send.Load(); s != nil {
		m["droppedStorageFull"] = s.Dropped()
	}
	return m
}
