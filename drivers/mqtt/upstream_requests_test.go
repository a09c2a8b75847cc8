package mqtt

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// upstreamCase is one of upstream's MQTT connector unit tests, as data
// (testdata/upstream/requests.json).
type upstreamCase struct {
	Name            string                     `json:"name"`
	Upstream        string                     `json:"upstream"`
	Note            string                     `json:"note"`
	RequestsMapping map[string]json.RawMessage `json:"requestsMapping"`
	Attributes      map[string]map[string]any  `json:"attributes"`
	Steps           []upstreamStep             `json:"steps"`
	Expect          struct {
		Publishes   *[]upstreamPublish `json:"publishes"`
		Requests    *[]string          `json:"requests"`
		Connects    *[][2]string       `json:"connects"`
		Disconnects *[]string          `json:"disconnects"`
	} `json:"expect"`
}

type upstreamStep struct {
	Update *struct {
		Device string         `json:"device"`
		Data   map[string]any `json:"data"`
	} `json:"update"`
	Publish *struct {
		Topic   string `json:"topic"`
		Payload string `json:"payload"`
	} `json:"publish"`
}

type upstreamPublish struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
	Retain  bool   `json:"retain"`
	QoS     byte   `json:"qos"`
}

// typeSink records device types of connects too.
type typeSink struct {
	*recSink
	mu    sync.Mutex
	types [][2]string
}

func (s *typeSink) Connect(ctx context.Context, device, deviceType string) error {
	s.mu.Lock()
	s.types = append(s.types, [2]string{device, deviceType})
	s.mu.Unlock()
	return s.recSink.Connect(ctx, device, deviceType)
}

func (s *typeSink) connects() [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][2]string{}, s.types...)
}

func TestUpstreamRequestVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/upstream/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		About string         `json:"about"`
		Cases []upstreamCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 19 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	m := startMosquitto(t)
	for i, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			runUpstreamCase(t, m, i, c)
		})
	}
}

func runUpstreamCase(t *testing.T, m *mosquitto, i int, c upstreamCase) {
	t.Logf("upstream %s", c.Upstream)
	mapping, _ := json.Marshal(c.RequestsMapping)
	cfg := `{"broker":` + brokerJSON(m, 5, "") + `,"mapping":[],"requestsMapping":` + string(mapping) + `}`
	sink := &typeSink{recSink: newRecSink()}
	for dev, attrs := range c.Attributes {
		sink.Attrs[dev] = attrs
	}
	conn := startConn(t, cfg, sink)
	dev := newDevClient(t, m.addr())
	// Each case publishes under its own prefix-free topics; a retained
	// message of an earlier case must not leak in, so every case clears
	// what it retained at the end.
	dev.sub("sensor/#")
	dev.sub("devices/#")
	marker := fmt.Sprintf("devices/marker-%d", i)
	ctx := context.Background()
	for _, s := range c.Steps {
		switch {
		case s.Update != nil:
			if err := conn.OnAttributes(ctx, s.Update.Device, s.Update.Data); err != nil {
				t.Logf("OnAttributes: %v", err)
			}
		case s.Publish != nil:
			dev.pub(s.Publish.Topic, 1, s.Publish.Payload)
		}
	}
	if c.Expect.Requests != nil && len(*c.Expect.Requests) > 0 {
		drivertest.Eventually(t, 10*time.Second, "attribute requests", func() bool { return len(sink.scopeLog()) >= len(*c.Expect.Requests) })
	}
	if c.Expect.Connects != nil && len(*c.Expect.Connects) > 0 {
		drivertest.Eventually(t, 10*time.Second, "connects", func() bool { return len(sink.connects()) >= len(*c.Expect.Connects) })
	}
	if c.Expect.Disconnects != nil && len(*c.Expect.Disconnects) > 0 {
		drivertest.Eventually(t, 10*time.Second, "disconnects", func() bool { return len(sink.Disconnects()) >= len(*c.Expect.Disconnects) })
	}
	var got []upstreamPublish
	if c.Expect.Publishes != nil {
		want := *c.Expect.Publishes
		for len(got) < len(want) {
			msg := dev.next(10 * time.Second)
			got = append(got, upstreamPublish{msg.Topic(), string(msg.Payload()), false, msg.Qos()})
		}
	}
	// Nothing more: a marker published after the steps arrives next. The
	// steps' own messages went out before it (same client for device
	// publishes; OnAttributes returns after publishing).
	dev.pub(marker, 1, "end")
	for {
		msg := dev.next(10 * time.Second)
		if msg.Topic() == marker {
			break
		}
		got = append(got, upstreamPublish{msg.Topic(), string(msg.Payload()), false, msg.Qos()})
	}
	if c.Expect.Publishes != nil {
		// A live message carries no retain flag (MQTT 3.1.1 delivery); a
		// retained publish shows when a new subscriber gets it.
		want := append([]upstreamPublish{}, *c.Expect.Publishes...)
		for i := range want {
			if want[i].Retain {
				late := newDevClient(t, m.addr())
				late.sub(want[i].Topic)
				msg := late.next(10 * time.Second)
				if !msg.Retained() || string(msg.Payload()) != want[i].Payload {
					t.Errorf("retained on %s: %q retained=%v, want %q", want[i].Topic, msg.Payload(), msg.Retained(), want[i].Payload)
				}
				want[i].Retain = false
			}
		}
		if !samePublishes(got, want) {
			t.Errorf("publishes %+v\nwant %+v", got, want)
		}
	}
	if c.Expect.Requests != nil {
		if g := sink.scopeLog(); !reflect.DeepEqual(append([]string{}, g...), append([]string{}, *c.Expect.Requests...)) {
			t.Errorf("attribute requests %q, want %q", g, *c.Expect.Requests)
		}
	}
	if c.Expect.Connects != nil && !reflect.DeepEqual(sink.connects(), append([][2]string{}, *c.Expect.Connects...)) {
		t.Errorf("connects %v, want %v", sink.connects(), *c.Expect.Connects)
	}
	if c.Expect.Disconnects != nil && strings.Join(sink.Disconnects(), ",") != strings.Join(*c.Expect.Disconnects, ",") {
		t.Errorf("disconnects %v, want %v", sink.Disconnects(), *c.Expect.Disconnects)
	}
	for _, p := range *orEmpty(c.Expect.Publishes) {
		if p.Retain { // clear it for the next case
			tok := dev.c.Publish(p.Topic, 1, true, "")
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("clearing %s: %v", p.Topic, tok.Error())
			}
		}
	}
}

func orEmpty(p *[]upstreamPublish) *[]upstreamPublish {
	if p == nil {
		return &[]upstreamPublish{}
	}
	return p
}

func samePublishes(got, want []upstreamPublish) bool {
	if len(got) != len(want) {
		return false
	}
	used := make([]bool, len(got))
	for _, w := range want { // upstream's test accepts any order
		found := false
		for i, g := range got {
			if !used[i] && g == w {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
