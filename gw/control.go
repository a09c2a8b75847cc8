package gw

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
)

// The control loop publishes device connect and disconnect notifications
// and re-announces every known device after each (re)connect, then pushes
// the shared attributes a connector asked for.

type controlKind int

const (
	ctlConnect controlKind = iota
	ctlDisconnect
	ctlReannounce
	ctlConnectors // the running connectors changed
	ctlPing       // liveness probe: the loop closes pong
)

type controlMsg struct {
	kind controlKind
	dev  device
	pong chan struct{}
}

func (g *Gateway) sendControl(m controlMsg) {
	select {
	case g.control <- m:
	default:
		// A full queue only delays announcements: the next reconnect
		// re-announces every device, and data announces itself.
		g.log.Debug("control queue full", "device", m.dev.Name)
	}
}

func (g *Gateway) controlLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-g.control:
			if m.kind == ctlPing {
				close(m.pong)
				continue
			}
			if !g.link.Connected() {
				continue
			}
			switch m.kind {
			case ctlConnect:
				g.announce(ctx, m.dev)
			case ctlDisconnect:
				g.publishControl(ctx, TopicDisconnect, map[string]any{"device": g.reg.tbName(m.dev.Name)})
			case ctlConnectors:
				g.publishOwnAttributes(ctx)
				if g.remoteEnabled() {
					g.publishRemoteConfig(ctx, false)
				}
			case ctlReannounce:
				g.publishOwnAttributes(ctx)
				g.publishOnceStats(ctx)
				g.otaReport(ctx)
				g.otaCheck(ctx)
				if g.remoteEnabled() {
					g.publishRemoteConfig(ctx, true)
				}
				for _, d := range g.reg.unannounceAll() {
					g.announce(ctx, d)
				}
			}
		}
	}
}

func (g *Gateway) announce(ctx context.Context, d device) {
	name := g.reg.tbName(d.Name)
	typ := d.Type
	if typ == "" {
		typ = "default"
	}
	g.publishControl(ctx, TopicConnect, map[string]any{"device": name, "type": typ})
	g.sendDetails(ctx, d, name)
	g.syncShared(ctx, d)
}

// sendDetails publishes the device-details attributes connectorType and
// connectorName of a device, as upstream does after connecting it: once per
// device and connector (again when the device moves to another connector).
// It runs on the control loop only.
func (g *Gateway) sendDetails(ctx context.Context, d device, tbName string) {
	r := g.runningByName(d.Connector)
	if r == nil {
		return
	}
	key := r.cfg.Type + "\x00" + r.cfg.Name
	if g.details[d.Name] == key {
		return
	}
	g.details[d.Name] = key
	g.publishControl(ctx, TopicAttributes, map[string]any{tbName: map[string]any{
		"connectorType": r.cfg.Type, "connectorName": r.cfg.Name}})
}

// syncShared pushes the current values of the shared attributes a
// connector wants to it when one of its devices connects.
func (g *Gateway) syncShared(ctx context.Context, d device) {
	if !config.Enabled(g.cfg.ThingsBoard.SyncDevicesSharedAttributesOnConnect, true) {
		return
	}
	r := g.runningByName(d.Connector)
	if r == nil {
		return
	}
	sk, ok := r.conn.(connector.SharedKeyser)
	if !ok {
		return
	}
	ah, ok := r.conn.(connector.AttributeHandler)
	if !ok {
		return
	}
	keys := sk.SharedAttributeKeys(d.Name)
	if len(keys) == 0 {
		return
	}
	for _, k := range keys {
		if k == "*" {
			keys = nil
			break
		}
	}
	g.spawn(func() {
		lctx, leave, live := r.enter(ctx)
		if !live {
			return
		}
		defer leave()
		rctx, cancel := context.WithTimeout(lctx, 20*time.Second)
		defer cancel()
		vals, err := g.link.RequestDeviceAttributes(rctx, g.reg.tbName(d.Name), false, keys)
		if err != nil {
			r.log.Debug("shared attribute sync", "device", d.Name, "err", err)
			return
		}
		if len(vals) == 0 {
			return
		}
		if err := ah.OnAttributes(rctx, d.Name, vals); err != nil {
			r.log.Warn("shared attribute sync", "device", d.Name, "err", err)
		}
	})
}

func (g *Gateway) publishControl(ctx context.Context, topic string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := g.link.Publish(pctx, topic, b, g.qos, 1); err != nil {
		g.log.Debug("publish", "topic", topic, "err", err)
	}
}

// UpstreamVersion is the tb-gateway release whose configuration formats and
// remote management tbgw implements. It is reported as the Version
// attribute, by which ThingsBoard's gateway UI picks its forms; tbgw's own
// version goes in tbgwVersion.
const UpstreamVersion = "3.8.3"

// publishOwnAttributes reports the gateway's version and connectors as
// client attributes of the gateway device.
func (g *Gateway) publishOwnAttributes(ctx context.Context) {
	names := []string{}
	g.runMu.Lock()
	for n := range g.running {
		names = append(names, n)
	}
	g.runMu.Unlock()
	sort.Strings(names)
	b, _ := json.Marshal(map[string]any{"Version": UpstreamVersion, "tbgwVersion": g.opts.Version, "active_connectors": names, "gatewayImplementation": "tbgw"})
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := g.link.Publish(pctx, TopicOwnAttributes, b, g.qos, 4); err != nil {
		g.log.Debug("publish own attributes", "err", err)
	}
}

// housekeeping persists the registry and checks device inactivity. Its
// timer is armed only while there is something to do (unsaved registry
// changes, devices to watch for inactivity); otherwise it sleeps until
// kicked. Unsaved changes are saved within a second; inactivity is
// checked every inactivityCheckPeriodSeconds.
func (g *Gateway) housekeeping(ctx context.Context) {
	act := g.cfg.ThingsBoard.CheckingDeviceActivity
	every := max(time.Duration(act.InactivityCheckPeriodSeconds)*time.Second, time.Second)
	lastCheck := g.now()
	for {
		dirty, watch := g.reg.busy(act.CheckDeviceInactivity)
		if !dirty && !watch {
			select {
			case <-ctx.Done():
				return
			case <-g.hkKick:
			}
			continue
		}
		t := time.NewTimer(housekeepingWait(dirty, watch, every, g.now().Sub(lastCheck)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-g.hkKick:
			// Something changed: the wait may be shorter now.
			t.Stop()
			continue
		case <-t.C:
		}
		if err := g.reg.save(); err != nil {
			g.log.Warn("saving device registry", "err", err)
		}
		now := g.now()
		if watch && now.Sub(lastCheck) >= every {
			lastCheck = now
			for _, d := range g.reg.inactive(now.Add(-time.Duration(act.InactivityTimeoutSeconds) * time.Second)) {
				g.log.Info("device inactive, disconnecting", "device", d.Name)
				g.sendControl(controlMsg{kind: ctlDisconnect, dev: d})
			}
		}
	}
}

// housekeepingSave is the most an unsaved registry change waits.
const housekeepingSave = time.Second

// housekeepingWait is how long housekeeping sleeps: until the registry is
// due to be saved (dirty) or the next inactivity check (watch, every
// since the last one was since ago), whichever is first.
func housekeepingWait(dirty, watch bool, every, since time.Duration) time.Duration {
	wait := time.Duration(-1)
	if dirty {
		wait = housekeepingSave
	}
	if watch {
		if next := max(every-since, 0); wait < 0 || next < wait {
			wait = next
		}
	}
	return max(wait, 0)
}

// kickHousekeeping wakes housekeeping to arm its timer; it never blocks.
func (g *Gateway) kickHousekeeping() {
	select {
	case g.hkKick <- struct{}{}:
	default:
	}
}

func parseLevel(s string) (slog.Level, bool) { return config.ParseLevel(s) }
