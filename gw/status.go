package gw

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/health"
)

// failedConnector is a configured connector that could not be built.
type failedConnector struct {
	typ, err string
}

// Status reads the gateway's state for `tbgw status` and the health
// endpoint: the counters it already keeps, read at this moment.
func (g *Gateway) Status() health.Status {
	st := g.store.Stats()
	s := health.Status{
		Version:      g.opts.Version,
		PID:          os.Getpid(),
		Started:      g.started,
		ThingsBoard:  fmt.Sprintf("%s:%d", g.cfg.ThingsBoard.Host, g.cfg.ThingsBoard.Port),
		Connected:    g.link.Connected(),
		QueueDepth:   uint64(st.Pending),
		StorageBytes: st.Bytes,
		StorageType:  g.cfg.Storage.Type,
		Counters: map[string]uint64{
			"eventsStored":             g.stats.stored.Load(),
			"eventsSent":               g.stats.sent.Load(),
			"eventsDropped":            st.Dropped + g.stats.rejected.Load(),
			"storageCorrupt":           st.Corrupt + g.stats.corrupt.Load(),
			"datapointsSent":           g.stats.pointsSent.Load(),
			"datapointsFiltered":       g.stats.filtered.Load(),
			"messagesSent":             g.stats.messages.Load(),
			"messagesTooLarge":         g.stats.tooLarge.Load(),
			"msgsReceivedFromPlatform": g.stats.received.Load(),
			"reconnects":               g.stats.reconnects.Load(),
		},
	}
	if s.StorageType == "" {
		s.StorageType = "memory"
	}
	g.runMu.Lock()
	for name, r := range g.running {
		c := health.Connector{Name: name, Type: r.cfg.Type, State: "running", Counters: map[string]uint64{
			"eventsProduced":     r.cs.stored.Load(),
			"eventsReceived":     r.cs.items.Load(),
			"datapointsReceived": r.cs.received.Load(),
			"invalidItems":       r.cs.invalid.Load(),
			"errors":             r.cs.errors.Load(),
			"restarts":           r.cs.restarts.Load(),
		}}
		if r.restarting.Load() {
			c.State = "restarting"
		}
		if e := r.lastErr.Load(); e != nil {
			c.LastError = *e
		}
		if sr, ok := r.conn.(connector.Statser); ok {
			c.Stats = sr.Stats()
		}
		s.Connectors = append(s.Connectors, c)
	}
	for name, f := range g.failed {
		s.Connectors = append(s.Connectors, health.Connector{Name: name, Type: f.typ, State: "failed", LastError: f.err, Counters: map[string]uint64{}})
	}
	g.runMu.Unlock()
	sort.Slice(s.Connectors, func(i, j int) bool { return s.Connectors[i].Name < s.Connectors[j].Name })
	return s
}

// errNotAlive is Alive's answer when the control loop does not answer.
var errNotAlive = errors.New("the gateway's control loop does not answer")

// Alive returns nil when the gateway's control loop (which announces
// devices and answers ThingsBoard's gateway requests) takes a probe
// within ctx: the health behind the systemd watchdog and /healthz.
func (g *Gateway) Alive(ctx context.Context) error {
	pong := make(chan struct{})
	select {
	case g.control <- controlMsg{kind: ctlPing, pong: pong}:
	case <-ctx.Done():
		return fmt.Errorf("%w: queue full", errNotAlive)
	}
	select {
	case <-pong:
		return nil
	case <-ctx.Done():
		return errNotAlive
	}
}

// WaitStarted waits until Run has started the connectors and the gateway
// is connected to ThingsBoard (true), or ctx ends (false).
func (g *Gateway) WaitStarted(ctx context.Context) bool {
	select {
	case <-g.applied:
	case <-ctx.Done():
		return false
	}
	select {
	case <-g.connectedCh():
		return true
	case <-ctx.Done():
		return false
	}
}

// WaitData waits until Run has started the connectors and every running
// connector has stored telemetry (true), or ctx ends (false). `tbgw run
// -once` stops the gateway then, which delivers what is stored before it
// returns.
func (g *Gateway) WaitData(ctx context.Context) bool {
	select {
	case <-g.applied:
	case <-ctx.Done():
		return false
	}
	for {
		if g.allProduced() {
			return true
		}
		select {
		case <-g.firstData:
		case <-ctx.Done():
			return false
		}
	}
}

func (g *Gateway) allProduced() bool {
	g.runMu.Lock()
	defer g.runMu.Unlock()
	for _, r := range g.running {
		if r.cs.telemetry.Load() == 0 {
			return false
		}
	}
	return true
}
