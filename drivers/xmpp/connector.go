package xmpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/codec/xmpp"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("xmpp", New) }

func asConvErr(err error, target **convert.Error) bool { return errors.As(err, target) }

// Connector is an XMPP client receiving device messages.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan

	running atomic.Bool
	cur     atomic.Pointer[client]

	mu       sync.Mutex
	byName   map[string]route    // device name → where to send
	waiters  map[string][]waiter // full JID → RPCs waiting for a reply
	counters kit.Counters
}

type route struct {
	jid string // full JID the device last wrote from
	dev *device
}

type reply struct {
	thread, body string
}

type waiter struct {
	thread string
	ch     chan reply
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
)

// New is the connector.Factory of the "xmpp" type.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("xmpp", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg, env.ConfigDir, func(w string) { env.Log.Warn(w) })
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	return &Connector{env: env, log: env.Log, plan: p, byName: map[string]route{}, waiters: map[string][]waiter{}}, nil
}

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 { return c.counters.Stats() }

// Run keeps a session with the server, reconnecting with back-off, until
// ctx ends.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	c.running.Store(true)
	defer c.running.Store(false)
	send := kit.NewSender(sink, c.log)
	b := backoff.Policy{Min: c.plan.reconnMin, Max: c.plan.reconnMax}.New()
	for {
		start := time.Now()
		err := c.session(ctx, send)
		if ctx.Err() != nil {
			return nil
		}
		var pe *kit.PanicError
		if errors.As(err, &pe) {
			return err
		}
		if time.Since(start) > c.plan.reconnMax {
			b.Reset()
		}
		c.counters.Add("reconnects", 1)
		c.log.Warn("xmpp: session ended; reconnecting", "err", err)
		if err := b.Wait(ctx); err != nil {
			return nil
		}
	}
}

// session logs in and reads until the session fails or ctx ends.
func (c *Connector) session(ctx context.Context, send *kit.Sender) error {
	cl, err := login(ctx, c.log, c.plan)
	if err != nil {
		return fmt.Errorf("login to %s as %s: %w", c.plan.addr, c.plan.jid.Bare(), err)
	}
	c.log.Info("xmpp: logged in", "jid", cl.jid.String(), "tls", cl.tls, "sasl", cl.mech)
	g, gctx := kit.NewGroup(ctx)
	stop := context.AfterFunc(gctx, cl.close)
	defer stop()
	c.cur.Store(cl)
	defer c.cur.Store(nil)
	g.Go("read", func() error { return c.read(gctx, cl, send) })
	g.Go("presence", func() error {
		if err := cl.write([]byte("<presence/>")); err != nil {
			return err
		}
		// The roster, as upstream asks for it; its content is not needed.
		if _, err := cl.iq(gctx, "get", "<query xmlns='jabber:iq:roster'/>"); err != nil && gctx.Err() == nil {
			c.log.Debug("xmpp: roster", "err", err)
		}
		return nil
	})
	if c.plan.ping > 0 {
		g.Go("ping", func() error { return c.keepAlive(gctx, cl) })
	}
	err = g.Wait()
	cl.close()
	return err
}

// keepAlive pings the server (XEP-0199) every pingInterval; a ping left
// unanswered for the login timeout ends the session, so a connection
// that died silently is noticed.
func (c *Connector) keepAlive(ctx context.Context, cl *client) error {
	t := time.NewTimer(c.plan.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.plan.timeout)
		_, err := cl.iq(pctx, "get", "<ping xmlns='urn:xmpp:ping'/>")
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !strings.Contains(err.Error(), "service-unavailable") && !strings.Contains(err.Error(), "feature-not-implemented") {
			return fmt.Errorf("ping: %w", err)
		}
		c.counters.Add("pings", 1)
		t.Reset(c.plan.ping)
	}
}

func (c *Connector) read(ctx context.Context, cl *client, send *kit.Sender) error {
	for {
		e, err := cl.next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch e.XMLName.Local {
		case "message":
			c.message(ctx, cl, e, send)
		case "iq":
			cl.answerIQ(e)
		case "presence":
			if e.Attr("type") == "subscribe" { // devices may ask to see the gateway
				_ = cl.write([]byte("<presence type='subscribed' to='" + xmpp.Escape(e.Attr("from")) + "'/>"))
			}
		}
	}
}

// deviceFor finds the configured device a message comes from: an exact
// full JID, else a configuration without resource matching the bare JID.
func (c *Connector) deviceFor(from xmpp.JID) *device {
	var bare *device
	for _, d := range c.plan.devices {
		if d.jid.Resource != "" {
			if d.jid.String() == from.String() {
				return d
			}
		} else if d.jid.Bare() == from.Bare() && bare == nil {
			bare = d
		}
	}
	return bare
}

func (c *Connector) message(ctx context.Context, cl *client, e *xmpp.Element, send *kit.Sender) {
	if t := e.Attr("type"); t == "error" || t == "groupchat" {
		return
	}
	body := e.Child("body")
	if body == nil {
		return
	}
	from, err := xmpp.ParseJID(e.Attr("from"))
	if err != nil {
		return
	}
	c.counters.Add("messagesReceived", 1)
	thread := ""
	if th := e.Child("thread"); th != nil {
		thread = th.Text
	}
	// A reply in an RPC's thread is only a reply; a message without a
	// thread taken as a reply may also be data, so it is converted too.
	if c.deliverReply(from.String(), reply{thread: thread, body: body.Text}) && thread != "" {
		return
	}
	d := c.deviceFor(from)
	if d == nil {
		c.log.Debug("xmpp: message from an unconfigured JID", "from", from.String())
		return
	}
	var data []connector.Data
	if d.py != nil {
		var args json.RawMessage
		if args, err = d.pyArgs(body.Text); err == nil {
			data, err = d.py.ConvertCall(args, c.env.Now().UnixMilli())
		}
	} else {
		data, err = d.conv.Convert("", []byte(body.Text), c.env.Now().UnixMilli())
	}
	if err != nil {
		c.counters.Add("messagesInvalid", 1)
		c.log.Warn("xmpp: message not converted", "from", from.String(), "err", err)
	}
	items := data[:0]
	for _, x := range data {
		if len(x.Attributes)+len(x.Telemetry) == 0 || x.Device == "" {
			continue
		}
		c.mu.Lock()
		c.byName[x.Device] = route{jid: from.String(), dev: d}
		c.mu.Unlock()
		items = append(items, x)
	}
	if len(items) == 0 {
		return
	}
	if err := send.Send(ctx, items); err != nil && ctx.Err() == nil {
		c.log.Warn("xmpp: send", "err", err)
	}
}

// deliverReply hands a message to an RPC waiting for the sender's answer:
// one carrying the RPC's thread, or, from a device that does not echo
// threads, the next message without a thread.
func (c *Connector) deliverReply(from string, r reply) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiters[from]
	for i, w := range ws {
		if r.thread == "" || r.thread == w.thread {
			w.ch <- r // buffered, one reply each
			c.waiters[from] = append(ws[:i:i], ws[i+1:]...)
			if len(c.waiters[from]) == 0 {
				delete(c.waiters, from)
			}
			return true
		}
	}
	return false
}

func jsonOrText(s string) any {
	t := strings.TrimSpace(s)
	if json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	return s
}
