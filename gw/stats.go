package gw

import (
	"github.com/tbgw/tbgw/gw/connector"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/gw/config"
)

// stats are the gateway-wide counters.
type stats struct {
	stored     atomic.Uint64 // events stored
	sent       atomic.Uint64 // events acknowledged by ThingsBoard
	pointsSent atomic.Uint64 // datapoints acknowledged by ThingsBoard
	attrsSent  atomic.Uint64 // of which attributes
	pulled     atomic.Uint64 // events read from the storage to be sent
	messages   atomic.Uint64 // MQTT messages acknowledged
	filtered   atomic.Uint64 // datapoints dropped by device filter / report strategy
	rejected   atomic.Uint64 // events refused by a full storage (reject-new)
	corrupt    atomic.Uint64 // stored events that could not be decoded
	tooLarge   atomic.Uint64 // messages dropped as larger than ThingsBoard accepts
	received   atomic.Uint64 // messages received from ThingsBoard
	reconnects atomic.Uint64 // connections to ThingsBoard
}

func (g *Gateway) statsEnabled() bool {
	return config.Enabled(g.cfg.ThingsBoard.Statistics.Enable, true)
}

// statsSnapshot is the gateway_stats reply and the statistics telemetry.
func (g *Gateway) statsSnapshot() map[string]any {
	st := g.store.Stats()
	m := map[string]any{
		"eventsProduced":           g.stats.stored.Load(),
		"eventsSent":               g.stats.sent.Load(),
		"eventsStored":             g.stats.stored.Load(),
		"eventsDropped":            st.Dropped + g.stats.rejected.Load(),
		"datapointsSent":           g.stats.pointsSent.Load(),
		"datapointsFiltered":       g.stats.filtered.Load(),
		"messagesSent":             g.stats.messages.Load(),
		"msgsReceivedFromPlatform": g.stats.received.Load(),
		"queueDepth":               st.Pending,
		"storageBytes":             st.Bytes,
		"storageCorrupt":           st.Corrupt + g.stats.corrupt.Load(),
		"reconnects":               g.stats.reconnects.Load(),
		"connectorErrors":          uint64(0),
		"rssBytes":                 RSS(),
	}
	var errs, items, points uint64
	g.runMu.Lock()
	for name, r := range g.running {
		items += r.cs.items.Load()
		points += r.cs.received.Load()
		key := stripSpaces(name)
		m[key+"EventsProduced"] = r.cs.stored.Load()
		m[key+"DatapointsReceived"] = r.cs.received.Load()
		m[key+"Errors"] = r.cs.errors.Load()
		m[key+"Restarts"] = r.cs.restarts.Load()
		errs += r.cs.errors.Load()
		if st, ok := r.conn.(connector.Statser); ok {
			for k, v := range st.Stats() {
				m[key+upperFirst(k)] = v
			}
		}
	}
	g.runMu.Unlock()
	m["connectorErrors"] = errs
	m["eventsReceived"] = items
	m["datapointsReceived"] = points
	return m
}

// upperFirst turns a counter name into the tail of a camel-case key.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func stripSpaces(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// statsLoop publishes statistics to the gateway device's telemetry every
// statsSendPeriodInSeconds while connected: tbgw's own counters and
// upstream's machineStats, serviceStats and connectorsStats objects.
func (g *Gateway) statsLoop(ctx context.Context) {
	period := time.Duration(g.cfg.ThingsBoard.Statistics.StatsSendPeriodInSeconds) * time.Second
	tick := time.NewTicker(period)
	defer tick.Stop()
	us := newUpstreamStats(g)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !g.link.Connected() {
			continue
		}
		vals := g.statsSnapshot()
		for k, v := range us.collect() {
			vals[k] = v
		}
		b, _ := json.Marshal([]map[string]any{{"ts": g.now().UnixMilli(), "values": vals}})
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := g.link.Publish(pctx, TopicOwnTelemetry, b, g.qos, len(vals)); err != nil {
			g.log.Debug("publishing statistics", "err", err)
		}
		cancel()
	}
}

// RSS returns the resident set size of this process in bytes (Linux), or 0.
func RSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("VmRSS:")) {
			fields := bytes.Fields(line[6:])
			if len(fields) > 0 {
				kb, _ := strconv.ParseInt(string(fields[0]), 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
