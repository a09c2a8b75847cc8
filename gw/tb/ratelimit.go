package tb

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream DEFAULT_* rate-limit tokens.
const (
	DefaultMessagesRateLimit    = "DEFAULT_MESSAGES_RATE_LIMIT"
	DefaultTelemetryRateLimit   = "DEFAULT_TELEMETRY_RATE_LIMIT"
	DefaultTelemetryDPRateLimit = "DEFAULT_TELEMETRY_DP_RATE_LIMIT"
)

// window is one "limit:seconds" pair.
type window struct {
	limit int
	per   time.Duration
}

// parseRateLimit parses an upstream rate-limit string: "limit:seconds"
// pairs separated by "," or ";" ("10:1,60:60"). Empty pairs and pairs with
// a zero limit or window ("0:0") are skipped; a nil result means unlimited.
// DEFAULT_* tokens are not accepted here (see Config).
func parseRateLimit(s string) ([]window, error) {
	var out []window
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ';' }) {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		l, p, ok := strings.Cut(f, ":")
		if !ok {
			return nil, fmt.Errorf("rate limit %q: %q is not limit:seconds", s, f)
		}
		limit, err1 := strconv.Atoi(strings.TrimSpace(l))
		secs, err2 := strconv.Atoi(strings.TrimSpace(p))
		if err1 != nil || err2 != nil || limit < 0 || secs < 0 || int64(secs) > 1<<31 {
			return nil, fmt.Errorf("rate limit %q: %q is not limit:seconds", s, f)
		}
		if limit == 0 || secs == 0 {
			continue
		}
		out = append(out, window{limit: limit, per: time.Duration(secs) * time.Second})
	}
	return out, nil
}

// isCloudHost mirrors upstream's test for hosts where the DEFAULT_* tokens
// mean the ThingsBoard Cloud / demo server limits.
func isCloudHost(host string) bool {
	h := strings.ToLower(host)
	return strings.Contains(h, "thingsboard.cloud") || strings.Contains(h, "demo.thingsboard.io") ||
		(strings.Contains(h, "tb") && strings.Contains(h, "cloud"))
}

// resolveRateLimit turns a config value into windows. def is the key's
// DEFAULT_* token used when s is empty. replaceable reports that the value
// came from a DEFAULT_* token and gives way to server-sent limits.
func resolveRateLimit(s, def, host string) (w []window, replaceable bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = def
	}
	switch s {
	case DefaultMessagesRateLimit, DefaultTelemetryRateLimit, DefaultTelemetryDPRateLimit:
		if !isCloudHost(host) {
			return nil, true, nil
		}
		v := "10:1,60:60"
		if s == DefaultTelemetryDPRateLimit {
			v = "10:1,300:60"
		}
		w, err = parseRateLimit(v)
		return w, true, err
	}
	w, err = parseRateLimit(s)
	return w, false, err
}

// bucket is a greedy token bucket for one window: it holds up to cap tokens
// and refills linearly at cap per window. Takes larger than cap are allowed
// once the bucket is full and drive it negative (debt), so the long-run
// rate still holds.
type bucket struct {
	w      window
	cap    float64
	rate   float64 // tokens per nanosecond
	tokens float64
	last   time.Time
}

func newBucket(w window, pct float64, now time.Time) *bucket {
	c := math.Floor(float64(w.limit) * pct / 100)
	if c < 1 {
		c = 1
	}
	return &bucket{w: w, cap: c, rate: c / float64(w.per), tokens: c, last: now}
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(b.cap, b.tokens+float64(d)*b.rate)
		b.last = now
	}
}

// need returns how long until n tokens (at most cap) are available.
func (b *bucket) need(n float64, now time.Time) time.Duration {
	b.refill(now)
	n = math.Min(n, b.cap)
	if b.tokens >= n {
		return 0
	}
	return time.Duration(math.Ceil((n - b.tokens) / b.rate))
}

// limit is the set of buckets of one traffic class (all must admit).
type limit struct {
	spec    []window // effective windows, for change detection
	buckets []*bucket
}

func (l *limit) set(ws []window, pct float64, now time.Time) {
	if equalWindows(l.spec, ws) {
		return
	}
	l.spec = ws
	l.buckets = l.buckets[:0]
	for _, w := range ws {
		l.buckets = append(l.buckets, newBucket(w, pct, now))
	}
}

func equalWindows(a, b []window) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// minLimit is the smallest raw limit of the class, 0 when unlimited.
func (l *limit) minLimit() int {
	m := 0
	for _, w := range l.spec {
		if m == 0 || w.limit < m {
			m = w.limit
		}
	}
	return m
}

// Traffic classes (section 2.5 of the behaviour notes, see docs).
const (
	clsOwnMsgs = iota
	clsOwnTel
	clsOwnDP
	clsDevMsgs
	clsDevTel
	clsDevDP
	numClasses
)

// rateKeys names the config key of each class, for errors.
var rateKeys = [numClasses]string{"messagesRateLimits", "rateLimits", "dpRateLimits",
	"deviceMessagesRateLimits", "deviceRateLimits", "deviceDpRateLimits"}

// limiter holds the buckets of every class. The zero value is unusable;
// build it with newLimiter.
type limiter struct {
	now func() time.Time
	pct float64

	mu          sync.Mutex
	cls         [numClasses]limit
	cfg         [numClasses][]window // configured windows
	replaceable [numClasses]bool     // configured value was a DEFAULT_* token
	active      atomic.Bool          // any bucket present: fast path when false
}

func newLimiter(cfg *Config, now func() time.Time) (*limiter, error) {
	l := &limiter{now: now, pct: cfg.RateLimitPercent}
	vals := [numClasses]string{cfg.MessagesRateLimits, cfg.RateLimits, cfg.DPRateLimits,
		cfg.DeviceMessagesRateLimits, cfg.DeviceRateLimits, cfg.DeviceDPRateLimits}
	defs := [numClasses]string{DefaultMessagesRateLimit, DefaultTelemetryRateLimit, DefaultTelemetryDPRateLimit,
		DefaultMessagesRateLimit, DefaultTelemetryRateLimit, DefaultTelemetryDPRateLimit}
	t := now()
	for i := range vals {
		w, repl, err := resolveRateLimit(vals[i], defs[i], cfg.Host)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rateKeys[i], err)
		}
		l.cfg[i], l.replaceable[i] = w, repl
		l.cls[i].set(w, l.pct, t)
	}
	l.updateActive()
	return l, nil
}

func (l *limiter) updateActive() {
	on := false
	for i := range l.cls {
		if len(l.cls[i].buckets) > 0 {
			on = true
		}
	}
	l.active.Store(on)
}

// applyServer installs server-sent limits: per class, the configured
// windows stay unless they came from a DEFAULT_* token, and the server's
// windows are added (both must admit). srv[i] nil means the server sent no
// limit for the class.
func (l *limiter) applyServer(srv [numClasses][]window) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	for i := range srv {
		var eff []window
		if !l.replaceable[i] {
			eff = append(eff, l.cfg[i]...)
		}
		eff = append(eff, srv[i]...)
		l.cls[i].set(eff, l.pct, t)
	}
	l.updateActive()
}

// drain empties the buckets of the given classes (server said "rate limit").
func (l *limiter) drain(classes ...int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	for _, c := range classes {
		for _, b := range l.cls[c].buckets {
			b.refill(t)
			b.tokens = 0
		}
	}
}

// minMessageLimit is the smallest raw message or telemetry limit of all
// classes, 0 when none is set; it bounds the in-flight window.
func (l *limiter) minMessageLimit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := 0
	for _, c := range [...]int{clsOwnMsgs, clsOwnTel, clsDevMsgs, clsDevTel} {
		if v := l.cls[c].minLimit(); v > 0 && (m == 0 || v < m) {
			m = v
		}
	}
	return m
}

// topicClasses returns the message class, the telemetry class and the
// datapoint class charged for a publish on topic (telemetry and datapoint
// class are -1 for non-telemetry topics).
func topicClasses(topic string) (msgs, tel, dp int) {
	if strings.HasPrefix(topic, "v1/gateway/") {
		if topic == TopicGatewayTelemetry || topic == TopicGatewayAttributes {
			return clsDevMsgs, clsDevTel, clsDevDP
		}
		return clsDevMsgs, -1, -1
	}
	if topic == TopicTelemetry {
		return clsOwnMsgs, clsOwnTel, clsOwnDP
	}
	return clsOwnMsgs, -1, -1
}

// reserve takes one message (and dp datapoints for telemetry topics) from
// the buckets of topic's classes if all of them admit it, else returns how
// long to wait before trying again.
func (l *limiter) reserve(topic string, dp int) time.Duration {
	msgs, tel, dpc := topicClasses(topic)
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	var wait time.Duration
	check := func(c int, n float64) {
		for _, b := range l.cls[c].buckets {
			wait = max(wait, b.need(n, t))
		}
	}
	check(msgs, 1)
	if tel >= 0 {
		check(tel, 1)
		check(dpc, float64(dp))
	}
	if wait > 0 {
		return wait
	}
	take := func(c int, n float64) {
		for _, b := range l.cls[c].buckets {
			b.tokens -= n
		}
	}
	take(msgs, 1)
	if tel >= 0 {
		take(tel, 1)
		take(dpc, float64(dp))
	}
	return 0
}

// wait blocks until the buckets admit a publish on topic or done/ctx ends.
func (l *limiter) wait(ctx context.Context, done <-chan struct{}, topic string, dp int) error {
	if !l.active.Load() {
		return nil
	}
	var timer *time.Timer
	for {
		d := l.reserve(topic, dp)
		if d == 0 {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		d = min(max(d, time.Millisecond), time.Second)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-done:
			timer.Stop()
			return ErrConnectionLost
		}
	}
}
