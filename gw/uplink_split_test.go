package gw

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/gw/tb"
)

func TestSplitFragment(t *testing.T) {
	for _, c := range []struct {
		in     string
		attrs  bool
		a, b   string
		splits bool
	}{
		{`"a":1,"b":25.0,"c":"x"`, true, `"a":1`, `"b":25.0,"c":"x"`, true},
		{`"only":1e+16`, true, "", "", false},
		{`{"ts":1,"values":{"a":1}},{"ts":2,"values":{"b":2.0}}`, false, `{"ts":1,"values":{"a":1}}`, `{"ts":2,"values":{"b":2.0}}`, true},
		{`{"ts":7,"values":{"a":1,"b":-0.0,"c":[1,{"x":"y"}]}}`, false, `{"ts":7,"values":{"a":1}}`, `{"ts":7,"values":{"b":-0.0,"c":[1,{"x":"y"}]}}`, true},
		{`{"a":1,"b":2}`, false, `{"a":1}`, `{"b":2}`, true},
		{`{"ts":7,"values":{"a":1}}`, false, "", "", false},
		{`{"ts":7,"values":`, false, "", "", false},
		{`"a":1,"b"`, true, "", "", false},
		{`"a":1}{"b":2`, true, "", "", false},
	} {
		a, b, ok := splitFragment([]byte(c.in), c.attrs)
		if ok != c.splits || string(a) != c.a || string(b) != c.b {
			t.Errorf("split %s: %q %q %v, want %q %q %v", c.in, a, b, ok, c.a, c.b, c.splits)
		}
	}
}

// limitLink accepts payloads up to server bytes, reports a build limit of
// max, and keeps what it was sent.
type limitLink struct {
	nopLink
	max, server int
	sent        []string
}

func (l *limitLink) MaxPayload() int { return l.max }
func (l *limitLink) Publish(_ context.Context, topic string, payload []byte, _ byte, _ int) (Token, error) {
	if len(payload) > l.server {
		return nil, fmt.Errorf("publish %s: %w", topic, tb.ErrTooLarge)
	}
	l.sent = append(l.sent, string(payload))
	return doneToken{}, nil
}

// A record stored while a larger limit applied (ThingsBoard's session
// limits were not known yet) is sent in pieces under the limit that
// applies when it is published, whether the packer learns it before
// building the message or from ThingsBoard's refusal: every value
// arrives once, byte for byte. It was dropped as "a message ThingsBoard
// cannot accept".
func TestPackerLimitShrank(t *testing.T) {
	var vals []string
	for i := range 300 {
		vals = append(vals, fmt.Sprintf(`"key%03d":%d.0`, i, i))
	}
	tele := []byte(`{"ts":1700000000000,"values":{` + strings.Join(vals, ",") + `}}`)
	attrs := []byte(strings.Join(vals[:40], ","))
	for _, packLimit := range []int{8196, 800} {
		t.Run(fmt.Sprint(packLimit), func(t *testing.T) {
			l := &limitLink{max: 800, server: 1000}
			g := &Gateway{link: l, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ctx := context.Background()
			p := packer{g: g, topic: TopicAttributes, open: '{', close: '}', limit: packLimit}
			if err := p.add(ctx, []byte("big"), [][]byte{attrs}, 40); err != nil {
				t.Fatal(err)
			}
			if err := p.add(ctx, []byte("small"), [][]byte{[]byte(`"s":1`)}, 1); err != nil {
				t.Fatal(err)
			}
			if err := p.flush(ctx); err != nil {
				t.Fatal(err)
			}
			p.topic, p.open, p.close, p.limit = TopicTelemetry, '[', ']', packLimit
			if err := p.add(ctx, []byte("big"), [][]byte{tele}, 300); err != nil {
				t.Fatal(err)
			}
			if err := p.flush(ctx); err != nil {
				t.Fatal(err)
			}
			if g.stats.tooLarge.Load() != 0 {
				t.Fatalf("%d messages dropped", g.stats.tooLarge.Load())
			}
			gotAttrs, gotTele := map[string]string{}, map[string]string{}
			for _, m := range l.sent {
				if len(m) > l.server {
					t.Fatalf("sent %d bytes", len(m))
				}
				var msg map[string]json.RawMessage
				if err := json.Unmarshal([]byte(m), &msg); err != nil {
					t.Fatalf("%v: %s", err, m)
				}
				for dev, raw := range msg {
					if raw[0] == '{' {
						var kv map[string]json.RawMessage
						json.Unmarshal(raw, &kv)
						for k, v := range kv {
							gotAttrs[dev+"/"+k] = string(v)
						}
						continue
					}
					var els []struct {
						TS     int64                      `json:"ts"`
						Values map[string]json.RawMessage `json:"values"`
					}
					if err := json.Unmarshal(raw, &els); err != nil {
						t.Fatal(err)
					}
					for _, e := range els {
						if e.TS != 1700000000000 {
							t.Fatalf("ts %d", e.TS)
						}
						for k, v := range e.Values {
							if _, dup := gotTele[k]; dup {
								t.Fatalf("%s twice", k)
							}
							gotTele[k] = string(v)
						}
					}
				}
			}
			if len(gotAttrs) != 41 || gotAttrs["small/s"] != "1" || gotAttrs["big/key039"] != "39.0" {
				t.Fatalf("attributes %d: %v", len(gotAttrs), gotAttrs)
			}
			if len(gotTele) != 300 || gotTele["key299"] != "299.0" {
				t.Fatalf("telemetry: %d values", len(gotTele))
			}
			t.Logf("limit at packing %d: %d messages", packLimit, len(l.sent))
		})
	}
}

// Stored fragments of any shape split without a panic into two smaller,
// non-empty fragments, or not at all.
func FuzzSplitFragment(f *testing.F) {
	f.Add([]byte(`"a":1,"b":25.0,"c":"x"`), true)
	f.Add([]byte(`{"ts":1,"values":{"a":1}},{"ts":2,"values":{"b":2.0}}`), false)
	f.Add([]byte(`{"ts":7,"values":{"a":1,"b":-0.0,"c":[1,{"x":"y"}]}}`), false)
	f.Add([]byte(`{"a":1,"b":2}`), false)
	f.Fuzz(func(t *testing.T, p []byte, attrs bool) {
		a, b, ok := splitFragment(p, attrs)
		if !ok {
			return
		}
		if len(a) == 0 || len(b) == 0 {
			t.Fatalf("split %q: %q %q", p, a, b)
		}
		for _, h := range [][]byte{a, b} {
			w := append(append([]byte{'['}, h...), ']')
			if attrs {
				w = append(append([]byte{'{'}, h...), '}')
			}
			if !json.Valid(w) {
				t.Fatalf("split %q: half %q is not valid", p, h)
			}
		}
	})
}
