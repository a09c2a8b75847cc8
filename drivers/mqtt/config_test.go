package mqtt

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

// logRecorder collects log records at Warn and above.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func parseFile(t *testing.T, name string) (*Connector, []string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	rec := &logRecorder{}
	c, err := newConnector(raw, connector.Env{Name: "mqtt", Type: "mqtt", Log: slog.New(rec)})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c, rec.msgs
}

func TestUpstreamSamplesLoad(t *testing.T) {
	for _, name := range []string{"mqtt.json", "old_mapping.json", "new_attribute_requests.json",
		"old_attribute_requests.json", "old_rpc.json", "old_connect.json"} {
		t.Run(name, func(t *testing.T) {
			_, warns := parseFile(t, name)
			if len(warns) > 0 {
				t.Errorf("warnings:\n%s", strings.Join(warns, "\n"))
			}
		})
	}
}

func TestSamplePlan(t *testing.T) {
	c, _ := parseFile(t, "mqtt.json")
	p := c.plan
	if p.version != 5 || p.port != 1883 || !p.clean || c.dial.clientID != "ThingsBoard_gateway" {
		t.Errorf("broker: %+v", p)
	}
	if len(p.maps) != 4 || len(p.connects) != 2 || len(p.disconnects) != 2 || len(p.attrReqs) != 1 ||
		len(p.attrUpds) != 1 || len(p.rpcs) != 2 {
		t.Errorf("sections: maps %d connects %d disconnects %d attrReqs %d attrUpds %d rpcs %d",
			len(p.maps), len(p.connects), len(p.disconnects), len(p.attrReqs), len(p.attrUpds), len(p.rpcs))
	}
	var subs []string
	for _, s := range p.subs {
		subs = append(subs, s.filter)
	}
	want := "data/,sensor/+/data,sensor/raw_data,custom/sensors/+,sensor/connect,sensor/+/connect," +
		"sensor/disconnect,sensor/+/disconnect,v1/devices/me/attributes/request"
	if got := strings.Join(subs, ","); got != want {
		t.Errorf("subscriptions\n got %s\nwant %s", got, want)
	}
	if p.rpcs[0].timeout.Milliseconds() != 10000 || p.rpcs[0].respTopic == nil || p.rpcs[1].respTopic != nil {
		t.Errorf("rpc routes: %+v %+v", p.rpcs[0], p.rpcs[1])
	}
}

func TestOldLayout(t *testing.T) {
	c, _ := parseFile(t, "old_connect.json")
	if len(c.plan.connects) != 2 || c.plan.connects[0].name.src != "message" || c.plan.connects[1].name.src != "topic" {
		t.Errorf("connects: %+v", c.plan.connects)
	}
	c, _ = parseFile(t, "old_attribute_requests.json")
	a := c.plan.attrReqs[0]
	if a.keySrc != "message" || len(a.keyTmpls) != 2 || a.name.src != "message" {
		t.Errorf("attribute request: %+v", a)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ name, cfg, want string }{
		{"no host", `{"broker":{"port":1883}}`, "broker.host: required"},
		{"bad port", `{"broker":{"host":"h","port":70000}}`, "broker.port"},
		{"bad version", `{"broker":{"host":"h","version":6}}`, "broker.version"},
		{"bad security", `{"broker":{"host":"h","security":{"type":"kerberos"}}}`, "broker.security.type"},
		{"bad filter", `{"broker":{"host":"h"},"mapping":[{"topicFilter":"a/#/b","converter":{"type":"json","deviceInfo":{"deviceNameExpression":"x"}}}]}`, "mapping[0].topicFilter"},
		{"bad qos", `{"broker":{"host":"h"},"mapping":[{"topicFilter":"a","subscriptionQos":3,"converter":{"type":"json"}}]}`, "mapping[0].subscriptionQos"},
		{"bad converter", `{"broker":{"host":"h"},"mapping":[{"topicFilter":"a","converter":{"type":"xml"}}]}`, "mapping[0].converter.type"},
		{"no converter", `{"broker":{"host":"h"},"mapping":[{"topicFilter":"a"}]}`, "mapping[0].converter: required"},
		{"unknown custom", `{"broker":{"host":"h"},"mapping":[{"topicFilter":"a","converter":{"type":"custom","extension":"Nope"}}]}`, "not compiled in"},
		{"bad regex", `{"broker":{"host":"h"},"requestsMapping":{"attributeUpdates":[{"deviceNameFilter":"(","attributeFilter":"a","topicExpression":"t","valueExpression":"v"}]}}`, "requestsMapping.attributeUpdates[0].deviceNameFilter"},
		{"rpc missing", `{"broker":{"host":"h"},"serverSideRpc":[{"deviceNameFilter":".*","methodFilter":"m"}]}`, "serverSideRpc[0]"},
		{"wrong type", `{"broker":{"host":"h","port":"x"}}`, "broker.port"},
		{"no name", `{"broker":{"host":"h"},"connectRequests":[{"topicFilter":"a"}]}`, "deviceNameExpression: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newConnector([]byte(tc.cfg), connector.Env{Name: "m", Strict: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestUnusableEntriesSkipped: as upstream, an attributeUpdates or
// serverSideRpc entry that cannot work is left out with a warning naming
// its position and key path; the rest of the file runs. Strict refuses it.
func TestUnusableEntriesSkipped(t *testing.T) {
	cfg := `{"broker":{"host":"h"},
"requestsMapping":{
  "attributeUpdates":[
    {"deviceNameFilter":".*","attributeFilter":"","topicExpression":"t","valueExpression":"v"},
    {"deviceNameFilter":".*","attributeFilter":"a","topicExpression":"t","valueExpression":"v"}],
  "serverSideRpc":[
    {"type":"twoWay","deviceNameFilter":".*","methodFilter":"m"},
    {"type":"oneWay","deviceNameFilter":".*","methodFilter":"m","requestTopicExpression":"r","valueExpression":"v"}]}}`
	rec := &logRecorder{}
	c, err := newConnector([]byte(cfg), connector.Env{Name: "m", File: "mqtt.json", Log: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.plan.attrUpds) != 1 || len(c.plan.rpcs) != 1 {
		t.Errorf("kept %d attribute updates, %d rpcs; want 1, 1", len(c.plan.attrUpds), len(c.plan.rpcs))
	}
	all := strings.Join(rec.msgs, "\n")
	for _, w := range []string{"mqtt.json:4:5: requestsMapping.attributeUpdates[0]: ", "mqtt.json:7:5: requestsMapping.serverSideRpc[0]: "} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
	if !strings.Contains(all, "entry skipped") {
		t.Errorf("warnings do not say the entry is skipped:\n%s", all)
	}
	_, err = newConnector([]byte(cfg), connector.Env{Name: "m", File: "mqtt.json", Strict: true})
	if err == nil || !strings.Contains(err.Error(), "mqtt.json:4:5: requestsMapping.attributeUpdates[0]") {
		t.Errorf("strict: err %v", err)
	}
}

func TestUnknownKeysWarned(t *testing.T) {
	rec := &logRecorder{}
	cfg := `{"broker":{"host":"h","colour":1},"mapping":[{"topicFilter":"a","converter":{"type":"json",
	  "deviceInfo":{"deviceNameExpressionSource":"constant","deviceNameExpression":"D"},
	  "timeseries":[{"type":"double","key":"t","value":"${t}","unit":"C"}],"attributes":"*"}}],"extra":true}`
	if _, err := newConnector([]byte(cfg), connector.Env{Name: "m", Log: slog.New(rec)}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rec.msgs, "\n")
	for _, k := range []string{"broker.colour", "mapping[0].converter.timeseries[0].unit", "extra"} {
		if !strings.Contains(all, k) {
			t.Errorf("no warning for %s in:\n%s", k, all)
		}
	}
}

func TestEmptyObjectsToLists(t *testing.T) {
	in := `{"requestsMapping": {"serverSideRpc": { }, "x": {}}, "mapping": {}}`
	got := string(emptyObjectsToLists([]byte(in)))
	want := `{"requestsMapping": {"serverSideRpc": [ ], "x": {}}, "mapping": []}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
