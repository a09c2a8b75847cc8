package health

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteMetrics(t *testing.T) {
	st := Status{
		Version: `1.0"x`, Started: time.Unix(1700000000, 0), Connected: true, QueueDepth: 7, StorageBytes: 99,
		Counters: map[string]uint64{"eventsSent": 5, "msgsReceivedFromPlatform": 2},
		Connectors: []Connector{
			{Name: `Boiler "A"`, Type: "modbus", State: "running", Counters: map[string]uint64{"eventsProduced": 3}, Stats: map[string]uint64{"polls": 10}},
			{Name: "Down", Type: "mqtt", State: "restarting", Counters: map[string]uint64{"eventsProduced": 0}},
		},
	}
	var b bytes.Buffer
	if err := WriteMetrics(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE tbgw_connected gauge\ntbgw_connected 1\n",
		"tbgw_queue_depth 7\n",
		"tbgw_storage_bytes 99\n",
		"tbgw_start_time_seconds 1700000000\n",
		`tbgw_info{version="1.0\"x"} 1` + "\n",
		"# TYPE tbgw_events_sent_total counter\ntbgw_events_sent_total 5\n",
		"tbgw_msgs_received_from_platform_total 2\n",
		`tbgw_connector_up{connector="Boiler \"A\"",type="modbus"} 1` + "\n",
		`tbgw_connector_up{connector="Down",type="mqtt"} 0` + "\n",
		"# TYPE tbgw_connector_events_produced_total counter\n",
		`tbgw_connector_events_produced_total{connector="Down",type="mqtt"} 0` + "\n",
		"# TYPE tbgw_connector_stat_polls untyped\n",
		`tbgw_connector_stat_polls{connector="Boiler \"A\"",type="modbus"} 10` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q in:\n%s", want, out)
		}
	}
	// Every sample line is name{labels} value or name value.
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if f := strings.Fields(l); len(f) < 2 {
			t.Errorf("bad sample line %q", l)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"eventsSent": "events_sent", "msgsReceivedFromPlatform": "msgs_received_from_platform",
		"rx-bytes": "rx_bytes", "9lives": "_lives", "already_snake": "already_snake",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoopbackDefault(t *testing.T) {
	for in, want := range map[string]string{":9101": "127.0.0.1:9101", "0.0.0.0:1": "0.0.0.0:1", "[::1]:5": "[::1]:5"} {
		if got, err := loopbackDefault(in); err != nil || got != want {
			t.Errorf("loopbackDefault(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := loopbackDefault("9101"); err == nil {
		t.Error("an address without a port accepted")
	}
}
