package opcua

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() {
	connector.Register("opcua", New)
}

// Connector is an OPC-UA client connector.
type Connector struct {
	env connector.Env
	log *slog.Logger
	cfg *settings

	mu      sync.RWMutex
	sess    *session           // nil while disconnected
	devices map[string]*device // by name, from the last scan

	certMu sync.Mutex
	appDER []byte          // generated application certificate
	appKey *rsa.PrivateKey // and its key

	out atomic.Pointer[kit.Sender] // of the current Run
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.SharedKeyser     = (*Connector)(nil)
)

// New is the connector factory: it parses and validates the configuration
// without any network I/O.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var fc fileConfig
	doc, err := kit.Setup("opcua", config, &env, &fc)
	if err != nil {
		return nil, err
	}
	cfg, err := compile(doc, &fc, env)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	return &Connector{env: env, log: env.Log, cfg: cfg, devices: map[string]*device{}}, nil
}

// Run connects, finds the devices and streams their data until ctx ends,
// re-creating client, session and subscription whenever the connection,
// the session or the subscription is lost.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	c.out.Store(kit.NewSender(sink, c.log))
	b := backoff.Policy{Min: c.cfg.backoffInitial, Max: c.maxDelay(), Factor: c.cfg.backoffFactor}.New()
	for {
		delay := b.Next()
		s, err := c.dial(ctx)
		if err == nil {
			c.log.Info("connected", "url", c.cfg.url, "policy", c.cfg.policy, "mode", c.cfg.mode)
			c.setSession(s)
			var up bool
			up, err = c.serve(ctx, s, sink)
			if up {
				// Only a session that got its data flowing resets the
				// back-off; one failing while setting up does not.
				b.Reset()
				delay = b.Next()
			}
			c.setSession(nil)
			s.close()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, connector.ErrStopping) {
				return err
			}
			c.log.Warn("session ended, reconnecting", "err", err, "in", delay)
		} else {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("cannot connect", "url", c.cfg.url, "err", err, "retry_in", delay)
		}
		if backoff.Sleep(ctx, delay) != nil {
			return nil
		}
		if c.cfg.retries > 0 && b.Attempts() >= c.cfg.retries {
			// Upstream gives up after the retries and starts over.
			b.Reset()
		}
	}
}

// maxDelay caps the reconnect back-off at 0.8 × the session timeout
// (upstream's bound) and never above one minute.
func (c *Connector) maxDelay() time.Duration {
	return max(min(time.Duration(float64(c.cfg.sessionTimeout)*0.8), time.Minute), c.cfg.backoffInitial)
}

func (c *Connector) setSession(s *session) {
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
}

func (c *Connector) setDevices(devs []*device) {
	m := make(map[string]*device, len(devs))
	for _, d := range devs {
		m[d.name] = d
	}
	c.mu.Lock()
	c.devices = m
	c.mu.Unlock()
}

// current returns the session (nil when disconnected) and a device.
func (c *Connector) current(name string) (*session, *device) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sess, c.devices[name]
}

// Periods of the session loop.
const (
	retryScanPeriod = 10 * time.Second // rescan while something is missing
	defaultWatchdog = 15 * time.Second // heartbeat silence that means a dead subscription
)

// serve runs one session: scan, subscribe or poll, rescan, health checks.
// It returns when the session is lost or ctx ends; up tells whether the
// session got as far as streaming data.
func (c *Connector) serve(ctx context.Context, s *session, sink connector.Sink) (up bool, err error) {
	devs, complete, err := c.scan(ctx, s, true)
	if err != nil {
		return false, fmt.Errorf("scan: %w", err)
	}
	c.setDevices(devs)
	c.logDevices(devs)
	if err := c.sendConstants(ctx, sink, devs); err != nil {
		return up, err
	}

	var (
		sb     *subscriber
		pl     *poller
		notif  <-chan *opcua.PublishNotificationData
		pollC  <-chan time.Time
		pollT  *time.Ticker
		health = time.NewTicker(min(c.cfg.sessionTimeout/2, time.Second))
	)
	defer health.Stop()
	if c.cfg.subscriptions {
		if sb, err = c.subscribe(ctx, s); err != nil {
			return up, err
		}
		ok, err := c.sync(ctx, s, sb, devs)
		if err != nil {
			return up, err
		}
		complete = complete && ok
		notif = sb.notif
	} else {
		pl = newPoller(devs)
		if err := c.poll(ctx, s, pl, sink); err != nil {
			return up, err
		}
		pollT = time.NewTicker(c.cfg.pollPeriod)
		defer pollT.Stop()
		pollC = pollT.C
	}

	nextScan := func(complete bool) time.Duration {
		if complete {
			return c.cfg.scanPeriod
		}
		return min(c.cfg.scanPeriod, retryScanPeriod)
	}
	scanT := time.NewTimer(nextScan(complete))
	defer scanT.Stop()
	up = true

	for {
		select {
		case <-ctx.Done():
			return up, nil
		case <-s.lost:
			return up, errors.New("connection closed")
		case n := <-notif:
			b := newBatch()
			if err := sb.handle(n, b); err != nil {
				return up, err
			}
			start := time.Now()
		drain:
			for b.n < c.cfg.maxBatch && time.Since(start) < c.cfg.minBatchTime {
				select {
				case n := <-notif:
					if err := sb.handle(n, b); err != nil {
						return up, err
					}
				default:
					break drain
				}
			}
			if err := c.send(ctx, sink, b); err != nil {
				return up, err
			}
		case <-pollC:
			if err := c.poll(ctx, s, pl, sink); err != nil {
				return up, err
			}
		case <-scanT.C:
			devs, complete, err = c.scan(ctx, s, false)
			if err != nil {
				return up, fmt.Errorf("rescan: %w", err)
			}
			c.setDevices(devs)
			if err := c.sendConstants(ctx, sink, devs); err != nil {
				return up, err
			}
			if sb != nil {
				ok, err := c.sync(ctx, s, sb, devs)
				if err != nil {
					return up, err
				}
				complete = complete && ok
			} else {
				pl = newPoller(devs)
			}
			scanT.Reset(nextScan(complete))
		case <-health.C:
			if err := c.checkHealth(ctx, s); err != nil {
				return up, err
			}
			if sb != nil {
				if err := c.checkWatchdog(sb); err != nil {
					return up, err
				}
			}
		}
	}
}

// checkHealth reads the server state: a failed read or a server that is
// not running means the session must be re-created.
func (c *Connector) checkHealth(ctx context.Context, s *session) error {
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := s.cl.Read(rctx, &ua.ReadRequest{
		NodesToRead:        []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_State), AttributeID: ua.AttributeIDValue}},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("health check: %w", err)
	}
	if len(res.Results) == 1 && res.Results[0].Value != nil {
		if st, ok := res.Results[0].Value.Value().(int32); ok && ua.ServerState(st) != ua.ServerStateRunning {
			return fmt.Errorf("server state %s", ua.ServerState(st))
		}
	}
	return nil
}

// checkWatchdog re-creates a subscription that went silent.
func (c *Connector) checkWatchdog(sb *subscriber) error {
	limit, armed := c.cfg.watchdog, sb.seen
	if limit == 0 {
		limit, armed = defaultWatchdog, sb.beating
	}
	if armed && time.Since(sb.lastMsg) > limit {
		return fmt.Errorf("%w: no notification for %v", errSubscriptionLost, time.Since(sb.lastMsg).Round(time.Second))
	}
	return nil
}

func (c *Connector) logDevices(devs []*device) {
	for _, d := range devs {
		c.log.Info("device", "device", d.name, "profile", d.profile, "node", d.node.String(), "datapoints", len(d.points)+len(d.consts), "missing", d.missing)
	}
}
