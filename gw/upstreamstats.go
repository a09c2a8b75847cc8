package gw

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tbgw/tbgw/gw/tb"
)

// Upstream's statistics shape (tb-gateway 8.6): every period one telemetry
// message carries machineStats, serviceStats and connectorsStats, objects
// whose counters cover the period (upstream resets them after each send);
// totalMemory, totalDisk and cpuCount are client attributes sent on
// connect.

// upstreamStats keeps the cumulative counters of the previous period.
type upstreamStats struct {
	g    *Gateway
	cpu  cpuSampler
	prev map[string]uint64
	conn map[string]map[string]uint64 // connector -> counter -> value at the previous send
}

func newUpstreamStats(g *Gateway) *upstreamStats {
	u := &upstreamStats{g: g, conn: map[string]map[string]uint64{}}
	u.cpu.percent() // start the CPU window
	u.prev = u.counters()
	return u
}

// linkStatser is the optional capability of a Link to report its counters.
type linkStatser interface{ Stats() tb.Stats }

// counters are the cumulative service counters.
func (u *upstreamStats) counters() map[string]uint64 {
	s := &u.g.stats
	c := map[string]uint64{
		"storageMsgPulled":         s.pulled.Load(),
		"platformMsgPushed":        s.messages.Load(),
		"platformAttrProduced":     s.attrsSent.Load(),
		"platformTsProduced":       s.pointsSent.Load() - min(s.attrsSent.Load(), s.pointsSent.Load()),
		"msgsReceivedFromPlatform": s.received.Load(),
		"msgsSentToPlatform":       s.messages.Load(),
	}
	if ls, ok := u.g.link.(linkStatser); ok {
		st := ls.Stats()
		c["msgsSentToPlatform"] = st.MessagesSent
		c["msgsReceivedFromPlatform"] = st.MessagesReceived
	}
	return c
}

func delta(now, prev map[string]uint64, k string) uint64 {
	return now[k] - min(prev[k], now[k])
}

// collect returns the three objects for this period.
func (u *upstreamStats) collect() map[string]any {
	now := u.counters()
	prev := u.prev
	u.prev = now
	machine := machineStats(&u.cpu)
	machine["msgsSentToPlatform"] = delta(now, prev, "msgsSentToPlatform")
	machine["msgsReceivedFromPlatform"] = delta(now, prev, "msgsReceivedFromPlatform")
	service := map[string]any{
		"storageMsgPulled":     delta(now, prev, "storageMsgPulled"),
		"storageMsgCount":      u.g.store.Stats().Pending,
		"platformMsgPushed":    delta(now, prev, "platformMsgPushed"),
		"platformAttrProduced": delta(now, prev, "platformAttrProduced"),
		"platformTsProduced":   delta(now, prev, "platformTsProduced"),
	}
	conns := map[string]any{}
	seen := map[string]bool{}
	u.g.runMu.Lock()
	for name, r := range u.g.running {
		cur := map[string]uint64{
			"connectorMsgsReceived": r.cs.items.Load(),
			"storageMsgPushed":      r.cs.stored.Load(),
			"connectorsErrors":      r.cs.errors.Load(),
		}
		seen[name] = true
		p := u.conn[name]
		u.conn[name] = cur
		out := map[string]uint64{}
		for k := range cur {
			if d := delta(cur, p, k); d > 0 {
				out[k] = d
			}
		}
		if len(out) > 0 {
			conns[name] = out
		}
	}
	u.g.runMu.Unlock()
	for name := range u.conn {
		if !seen[name] {
			delete(u.conn, name)
		}
	}
	return map[string]any{"machineStats": machine, "serviceStats": service, "connectorsStats": conns}
}

// publishOnceStats sends totalMemory, totalDisk and cpuCount as client
// attributes of the gateway device.
func (g *Gateway) publishOnceStats(ctx context.Context) {
	if !g.statsEnabled() {
		return
	}
	attrs := onceStats()
	b, _ := json.Marshal(attrs)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := g.link.Publish(pctx, TopicOwnAttributes, b, g.qos, len(attrs)); err != nil {
		g.log.Debug("publishing machine attributes", "err", err)
	}
}
