package socket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

var errStopped = errors.New("socket connector is not running")

// write sends b to the peer at addr: over its open TCP connection, over
// the UDP socket, or (TCP server without such a connection, as upstream)
// over a new connection closed after the write.
func (c *Connector) write(ctx context.Context, addr string, b []byte) error {
	c.mu.Lock()
	pc := c.conns[addr]
	udp, udpc := c.udp, c.udpc
	c.mu.Unlock()
	deadline := time.Now().Add(c.plan.write)
	switch {
	case pc != nil:
		pc.wmu.Lock()
		defer pc.wmu.Unlock()
		pc.c.SetWriteDeadline(deadline)
		_, err := pc.c.Write(b)
		return err
	case udpc != nil && udpc.RemoteAddr().String() == addr:
		udpc.SetWriteDeadline(deadline)
		_, err := udpc.Write(b)
		return err
	case udp != nil:
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return err
		}
		udp.SetWriteDeadline(deadline)
		_, err = udp.WriteTo(b, ua)
		return err
	case c.plan.udp:
		conn, err := (&net.Dialer{Timeout: c.plan.write}).DialContext(ctx, "udp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Write(b)
		return err
	}
	conn, err := (&net.Dialer{Timeout: c.plan.write}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetWriteDeadline(deadline)
	_, err = conn.Write(b)
	return err
}

func (c *Connector) peer(d *device) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.peers[d]; a != "" {
		return a, nil
	}
	return "", fmt.Errorf("device %q has not connected yet", d.name)
}

// OnAttributes writes each updated attribute named in a device's
// attributeUpdates to the device's peer.
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
	for _, d := range c.plan.devices {
		if d.name != device {
			continue
		}
		for _, u := range d.updates {
			v, ok := values[u.key]
			if !ok {
				continue
			}
			c.downlinks.Add(1)
			if err := c.send(ctx, d, v, u.enc); err != nil {
				c.downlinkErrors.Add(1)
				errs = append(errs, fmt.Errorf("attribute %s of %s: %w", u.key, device, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Connector) send(ctx context.Context, d *device, v any, enc string) error {
	addr, err := c.peer(d)
	if err != nil {
		return err
	}
	b, err := encode(v, enc)
	if err != nil {
		return err
	}
	return c.write(ctx, addr, b)
}

// OnRPC writes the params of a device RPC named in the device's
// serverSideRpc to the device and answers {"result":"ok"}; the reserved
// set (also the connector RPC socket_set) writes value to address:port.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if !c.live.Load() {
		return nil, errStopped
	}
	c.downlinks.Add(1)
	if req.Method == "set" {
		p, err := rpcparams.FromJSON(req.Params, "value")
		if err != nil {
			c.downlinkErrors.Add(1)
			return nil, err
		}
		if err := p.Require("address", "port", "value"); err != nil {
			c.downlinkErrors.Add(1)
			return nil, err
		}
		host, _ := p.Get("address")
		port, _ := p.Get("port")
		value, _ := p.Get("value")
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			c.downlinkErrors.Add(1)
			return nil, fmt.Errorf("param \"port\" must be a port number, got %q", port)
		}
		if err := c.write(ctx, net.JoinHostPort(host, port), []byte(value)); err != nil {
			c.downlinkErrors.Add(1)
			return nil, err
		}
		return map[string]any{"result": "ok"}, nil
	}
	for _, d := range c.plan.devices {
		if d.name != req.Device {
			continue
		}
		for _, r := range d.rpcs {
			if r.method != req.Method {
				continue
			}
			if err := c.send(ctx, d, json.RawMessage(req.Params), r.enc); err != nil {
				c.downlinkErrors.Add(1)
				return nil, err
			}
			return map[string]any{"result": "ok"}, nil
		}
	}
	c.downlinkErrors.Add(1)
	return nil, fmt.Errorf("no serverSideRpc entry for method %q of device %q", req.Method, req.Device)
}
