package gw

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Remote logging and error counters (tb-gateway 8.4).
//
// Every logger of the gateway goes through a remoteHandler. Records at or
// above the remote threshold become telemetry of the gateway device: the
// service logger's under SERVICE_LOGS and LOGS (threshold: the shared
// attribute RemoteLoggingLevel, NONE by default), a connector's under
// <connector>_LOGS when its configuration says enableRemoteLogging (at its
// logLevel). ERROR records are counted per logger and published as
// <logger>_ERRORS_COUNT and ALL_ERRORS_COUNT every errorsSendPeriod while
// they change; the counts restart every errorsResetPeriod.
//
// What is sent is bounded twice: a byte budget (token bucket) drops records
// beyond remoteLogRate bytes per second on average, and the queue holds at
// most remoteLogQueue records while ThingsBoard is unreachable. Dropped
// records are reported by one line when sending resumes.

const (
	levelOff          = slog.Level(1 << 20) // remote logging disabled
	remoteLogQueue    = 256                 // records waiting to be sent
	remoteLogLine     = 1024                // bytes of one formatted record, at most
	remoteLogRate     = 2048                // bytes per second on average
	remoteLogBurst    = 16 << 10            // bytes sendable at once after a quiet time
	remoteLogBatch    = 20                  // records per telemetry message
	errorsSendPeriod  = 5 * time.Second
	errorsResetPeriod = time.Minute
)

type logRec struct {
	ts   int64
	key  string
	line string
	dup  bool // also under LOGS
}

// remoteLog is the gateway's remote log queue and error counters.
type remoteLog struct {
	now func() time.Time
	svc slog.LevelVar // remote threshold of the service logger

	mu      sync.Mutex
	queue   []logRec
	dropped uint64
	tokens  float64
	last    time.Time
	noticed time.Time     // when the last dropped-records line was queued
	wake    chan struct{} // records queued (capacity 1)

	emu     sync.Mutex
	errs    map[string]uint64 // logger name -> ERROR records in the window
	errWake chan struct{}     // an error was counted (capacity 1)

	sentBytes atomic.Uint64 // payload bytes of log telemetry published
	drops     atomic.Uint64 // records dropped by the budget or a full queue
}

func newRemoteLog(now func() time.Time) *remoteLog {
	rl := &remoteLog{now: now, wake: make(chan struct{}, 1), errWake: make(chan struct{}, 1),
		errs: map[string]uint64{}, tokens: remoteLogBurst, last: time.Now()}
	rl.svc.Set(levelOff)
	return rl
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// kickErrors wakes the error-count publisher.
func (rl *remoteLog) kickErrors() {
	if rl != nil {
		poke(rl.errWake)
	}
}

func (rl *remoteLog) countError(name string) {
	rl.emu.Lock()
	rl.errs[name]++
	rl.emu.Unlock()
	poke(rl.errWake)
}

// enqueue admits rec if the byte budget and the queue allow it.
func (rl *remoteLog) enqueue(rec logRec) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	t := time.Now()
	rl.tokens = min(rl.tokens+t.Sub(rl.last).Seconds()*remoteLogRate, remoteLogBurst)
	rl.last = t
	cost := recCost(rec)
	var notice logRec
	if rl.dropped > 0 && t.Sub(rl.noticed) >= 10*time.Second {
		notice = logRec{ts: rec.ts, key: "SERVICE_LOGS", dup: true,
			line: formatTime(time.UnixMilli(rec.ts)) + " - |WARNING| - [service] - " + strconv.FormatUint(rl.dropped, 10) + " log records not sent (remote logging rate limit)"}
		cost += recCost(notice)
	}
	if rl.tokens < cost || len(rl.queue) >= remoteLogQueue-1 {
		rl.dropped++
		rl.drops.Add(1)
		return
	}
	rl.tokens -= cost
	if notice.line != "" {
		rl.queue = append(rl.queue, notice)
		rl.dropped, rl.noticed = 0, t
	}
	rl.queue = append(rl.queue, rec)
	poke(rl.wake)
}

// recCost is the budget a record takes: its telemetry bytes, roughly.
func recCost(r logRec) float64 {
	c := len(r.line) + len(r.key) + 40 // {"ts":…,"values":{"<key>":"<line>"}}
	if r.dup {
		c += len(r.line) + 10 // ,"LOGS":"<line>"
	}
	return float64(c)
}

// take removes up to remoteLogBatch records whose telemetry stays within
// maxBytes.
func (rl *remoteLog) take(maxBytes int) []logRec {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	n, size := 0, 2
	for n < len(rl.queue) && n < remoteLogBatch {
		s := len(rl.queue[n].line)*2 + 64
		if n > 0 && size+s > maxBytes {
			break
		}
		size += s
		n++
	}
	out := append([]logRec(nil), rl.queue[:n]...)
	rl.queue = append(rl.queue[:0], rl.queue[n:]...)
	return out
}

func formatTime(t time.Time) string {
	return t.Format("2006-01-02 15:04:05") + "," + t.Format(".000")[1:]
}

func remoteLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "TRACE"
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < slog.LevelError+4:
		return "ERROR"
	}
	return "CRITICAL"
}

// remoteHandler feeds a logger's records to the remote log and the error
// counters, and passes them on to inner.
type remoteHandler struct {
	inner  slog.Handler
	rl     *remoteLog
	key    string       // telemetry key
	name   string       // logger name for the error counters
	dup    bool         // also under LOGS
	level  slog.Leveler // remote threshold
	attrs  string       // preformatted attributes of With
	prefix string       // group prefix
}

// remoteHandlerFor wraps inner; a nil remote log leaves inner as it is.
func (rl *remoteLog) handler(inner slog.Handler, key, name string, dup bool, level slog.Leveler) slog.Handler {
	if rl == nil {
		return inner
	}
	return &remoteHandler{inner: inner, rl: rl, key: key, name: name, dup: dup, level: level}
}

func (h *remoteHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || l >= h.level.Level() || h.inner.Enabled(ctx, l)
}

func (h *remoteHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.inner.Enabled(ctx, r.Level) {
		err = h.inner.Handle(ctx, r)
	}
	if r.Level >= slog.LevelError {
		h.rl.countError(h.name)
	}
	if r.Level >= h.level.Level() {
		var b strings.Builder
		b.WriteString(formatTime(r.Time))
		b.WriteString(" - |")
		b.WriteString(remoteLevelName(r.Level))
		b.WriteString("| - [")
		b.WriteString(h.name)
		b.WriteString("] - ")
		b.WriteString(r.Message)
		b.WriteString(h.attrs)
		r.Attrs(func(a slog.Attr) bool {
			appendAttr(&b, h.prefix, a)
			return b.Len() < remoteLogLine
		})
		line := b.String()
		if len(line) > remoteLogLine {
			line = strings.ToValidUTF8(line[:remoteLogLine], "") + "…"
		}
		h.rl.enqueue(logRec{ts: r.Time.UnixMilli(), key: h.key, line: line, dup: h.dup})
	}
	return err
}

func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	s := v.String()
	if strings.ContainsAny(s, " \"=") || s == "" {
		s = strconv.Quote(s)
	}
	b.WriteString(s)
}

func (h *remoteHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(as)
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		appendAttr(&b, h.prefix, a)
	}
	c.attrs = b.String()
	return &c
}

func (h *remoteHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	if name != "" {
		c.prefix += name + "."
	}
	return &c
}

// remoteLogLoop publishes queued log records while connected. It sleeps
// while the queue is empty.
func (g *Gateway) remoteLogLoop(ctx context.Context) {
	rl := g.rlog
	for {
		select {
		case <-ctx.Done():
			return
		case <-rl.wake:
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-g.connectedCh():
			}
			batch := rl.take(g.payloadLimit() * 8 / 10)
			if len(batch) == 0 {
				break
			}
			msgs := make([]map[string]any, len(batch))
			for i, r := range batch {
				vals := map[string]any{r.key: r.line}
				if r.dup {
					vals["LOGS"] = r.line
				}
				msgs[i] = map[string]any{"ts": r.ts, "values": vals}
			}
			b, _ := json.Marshal(msgs)
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := g.link.Publish(pctx, TopicOwnTelemetry, b, g.qos, len(batch))
			cancel()
			if err != nil {
				g.rawLog.Debug("publishing remote logs", "records", len(batch), "err", err)
				continue
			}
			rl.sentBytes.Add(uint64(len(b)))
		}
	}
}

// setRemoteLevel applies the shared attribute RemoteLoggingLevel.
func (g *Gateway) setRemoteLevel(s string) bool {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "NONE" || s == "NOTSET" {
		g.rlog.svc.Set(levelOff)
		return true
	}
	lv, ok := parseLevel(s)
	if !ok {
		return false
	}
	g.rlog.svc.Set(lv)
	return true
}

// errorsLoop publishes <logger>_ERRORS_COUNT and ALL_ERRORS_COUNT: on
// connect, then every errorsSendPeriod while they change; a window of
// errorsResetPeriod starts with the first error and its end resets the
// counts to zero (published once). Idle, it sleeps until an error.
func (g *Gateway) errorsLoop(ctx context.Context) {
	rl := g.rlog
	var prev map[string]uint64
	var window time.Time            // start of the counting window; zero while idle
	base := map[*connStats]uint64{} // connector error counters at the window start
	var lastConn <-chan struct{}
	active := false
	for {
		if active {
			t := time.NewTimer(errorsSendPeriod)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-rl.errWake:
				t.Stop()
				continue // counted; the timer sends it
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-rl.errWake:
			}
		}
		conn := g.connectedCh()
		select {
		case <-conn:
		case <-ctx.Done():
			return
		}
		if conn != lastConn { // a new session: send every counter again
			lastConn, prev = conn, nil
		}
		now := time.Now()
		g.runMu.Lock()
		type rc struct {
			name string
			cs   *connStats
		}
		conns := make([]rc, 0, len(g.running))
		for n, r := range g.running {
			conns = append(conns, rc{n, r.cs})
		}
		g.runMu.Unlock()
		if !window.IsZero() && now.Sub(window) >= errorsResetPeriod {
			rl.emu.Lock()
			clear(rl.errs)
			rl.emu.Unlock()
			clear(base)
			for _, c := range conns {
				base[c.cs] = c.cs.remoteErrors()
			}
			window = time.Time{}
		}
		batch := map[string]uint64{}
		rl.emu.Lock()
		for k, v := range rl.errs {
			batch[k+"_ERRORS_COUNT"] = v
		}
		rl.emu.Unlock()
		for _, c := range conns {
			batch[c.name+"_ERRORS_COUNT"] += c.cs.remoteErrors() - min(base[c.cs], c.cs.remoteErrors())
		}
		var all uint64
		for _, v := range batch {
			all += v
		}
		batch["ALL_ERRORS_COUNT"] = all
		if all > 0 && window.IsZero() {
			window = now
		}
		active = all > 0
		send := map[string]any{}
		for k, v := range batch {
			if p, ok := prev[k]; !ok || p != v {
				send[k] = v
			}
		}
		if len(send) == 0 {
			continue
		}
		b, _ := json.Marshal(send)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := g.link.Publish(pctx, TopicOwnTelemetry, b, g.qos, len(send))
		cancel()
		if err != nil {
			g.rawLog.Debug("publishing error counts", "err", err)
			active = true // retry on the next period
			continue
		}
		prev = batch
	}
}
