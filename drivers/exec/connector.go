package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("exec", New) }

// Conn is a configured exec connector.
type Conn struct {
	env     connector.Env
	s       settings
	running atomic.Bool
	sess    atomic.Pointer[session]
	rpcID   atomic.Int64

	n struct {
		lines, stored, acks, protocolErrors, stdinDropped, storageFullWaits,
		starts, exits, killed, rpcs, rpcErrors, attrUpdates atomic.Uint64
	}
}

// New builds the connector from its configuration file.
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	var cfg Config
	doc, err := kit.Setup("exec", raw, &env, &cfg)
	if err != nil {
		return nil, err
	}
	s, err := compile(doc, &cfg, env.ConfigDir)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	if s.warn != "" {
		env.Log.Warn(s.warn)
	}
	return &Conn{env: env, s: s}, nil
}

// Run starts the program and restarts it with back-off whenever it ends,
// until ctx is cancelled; then it stops the program.
func (c *Conn) Run(ctx context.Context, sink connector.Sink) error {
	c.running.Store(true)
	defer c.running.Store(false)
	b := backoff.Policy{Min: c.s.restartMin, Max: c.s.restartMax}.New()
	for {
		start := time.Now()
		err := c.runOnce(ctx, sink)
		if ctx.Err() != nil {
			return nil
		}
		// A panic in one of our goroutines is a bug on our side: the
		// supervisor restarts the whole connector.
		var pe *kit.PanicError
		if errors.As(err, &pe) {
			return err
		}
		if time.Since(start) >= time.Minute {
			b.Reset()
		}
		c.env.Log.Warn("program ended; restarting", "err", err)
		if b.Wait(ctx) != nil {
			return nil
		}
	}
}

var errStopped = errors.New("the exec connector is not running")

func (c *Conn) current() (*session, error) {
	if !c.running.Load() {
		return nil, errStopped
	}
	s := c.sess.Load()
	if s == nil {
		return nil, errors.New("the program is not running (it is being restarted)")
	}
	return s, nil
}

// OnAttributes passes shared attribute updates to the program.
func (c *Conn) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	s, err := c.current()
	if err != nil {
		return err
	}
	if !s.enqueue(attributesOut{Type: "attributes", Device: device, Values: values}) {
		return fmt.Errorf("device %s: the program is not reading its input; attribute update dropped", device)
	}
	c.n.attrUpdates.Add(1)
	return nil
}

// OnRPC passes an RPC to the program and returns its rpcReply.
func (c *Conn) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	s, err := c.current()
	if err != nil {
		return nil, err
	}
	c.n.rpcs.Add(1)
	res, err := s.rpc(ctx, c.rpcID.Add(1), req)
	if err != nil {
		c.n.rpcErrors.Add(1)
		return nil, err
	}
	return res, nil
}

// Stats reports the connector's counters.
func (c *Conn) Stats() map[string]uint64 {
	return map[string]uint64{
		"lines":            c.n.lines.Load(),
		"stored":           c.n.stored.Load(),
		"acks":             c.n.acks.Load(),
		"protocolErrors":   c.n.protocolErrors.Load(),
		"stdinDropped":     c.n.stdinDropped.Load(),
		"storageFullWaits": c.n.storageFullWaits.Load(),
		"starts":           c.n.starts.Load(),
		"exits":            c.n.exits.Load(),
		"killed":           c.n.killed.Load(),
		"rpcs":             c.n.rpcs.Load(),
		"rpcErrors":        c.n.rpcErrors.Load(),
		"attributeUpdates": c.n.attrUpdates.Load(),
	}
}

type rpcResult struct {
	result json.RawMessage
	err    string
	isErr  bool
}
