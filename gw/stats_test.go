package gw

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0.0B", 512: "512.0B", 1024: "1.0K", 1536: "1.5K",
		8 << 30: "8.0G", 10*1024*1024*1024 + 512*1024*1024: "10.5G"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Statistics in upstream's shape: the once-sent attributes and the three
// objects of the periodic telemetry, beside tbgw's own counters.
func TestUpstreamStatistics(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"statistics": map[string]any{"enable": true, "statsSendPeriodInSeconds": 10}},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	r.start()
	r.tb.WaitConnected("dev", 10*time.Second)
	r.tb.Wait(10*time.Second, "machine attributes", func() bool {
		a := r.tb.Attributes(tbtest.Self)
		tm, _ := a["totalMemory"].(string)
		td, _ := a["totalDisk"].(string)
		n, _ := a["cpuCount"].(float64)
		return tm != "" && td != "" && n >= 1
	})
	ms := r.tb.WaitTelemetry(tbtest.Self, "machineStats", nil, 20*time.Second).(map[string]any)
	for _, k := range []string{"totalCpuUsage", "diskUsage", "freeMemory", "freeDisk", "gwProcessCpuUsage",
		"gwMemory", "gwProcessMemoryFullInfo", "msgsSentToPlatform", "msgsReceivedFromPlatform"} {
		if _, ok := ms[k]; !ok {
			t.Errorf("machineStats lacks %s: %v", k, ms)
		}
	}
	if info, _ := ms["gwProcessMemoryFullInfo"].(map[string]any); info["rss"] == nil || info["vms"] == nil {
		t.Errorf("gwProcessMemoryFullInfo %v", ms["gwProcessMemoryFullInfo"])
	}
	ss, _ := r.tb.Latest(tbtest.Self, "serviceStats")
	svc, _ := ss.(map[string]any)
	for _, k := range []string{"storageMsgPulled", "storageMsgCount", "platformMsgPushed", "platformAttrProduced", "platformTsProduced"} {
		if _, ok := svc[k]; !ok {
			t.Errorf("serviceStats lacks %s: %v", k, svc)
		}
	}
	if v, _ := svc["platformTsProduced"].(float64); v <= 0 {
		t.Errorf("platformTsProduced %v", svc["platformTsProduced"])
	}
	cs, _ := r.tb.Latest(tbtest.Self, "connectorsStats")
	p, _ := cs.(map[string]any)["P"].(map[string]any)
	if v, _ := p["connectorMsgsReceived"].(float64); v <= 0 {
		t.Errorf("connectorsStats %v", cs)
	}
	if _, ok := r.tb.Latest(tbtest.Self, "eventsSent"); !ok {
		t.Error("tbgw's own counters missing")
	}
}

// Custom statistics: shell strings and argument lists, numbers parsed,
// a per-command period, a timeout and an output limit.
func TestCustomStatistics(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"statistics": map[string]any{"enable": false, "enableCustom": true,
			"customStatsSendPeriodInSeconds": 3600, "configuration": "statistics.json"}},
	}, map[string]any{"statistics.json": []any{
		map[string]any{"attributeOnGateway": "answer", "command": "echo 42", "timeout": 5},
		map[string]any{"attributeOnGateway": "OS", "command": []string{"/bin/sh", "-c", "echo tbgw os"}, "timeout": 5},
		map[string]any{"attributeOnGateway": "tick", "command": "date +%s%N", "timeout": 5, "period": 0.2},
		map[string]any{"attributeOnGateway": "slow", "command": "sleep 30; echo late", "timeout": 0.3},
		map[string]any{"attributeOnGateway": "big", "command": "head -c 100000 /dev/zero | tr '\\0' x", "timeout": 5, "maxOutputBytes": 100},
	}})
	r.start()
	r.tb.WaitTelemetry(tbtest.Self, "answer", func(v any) bool { return v == 42.0 }, 15*time.Second)
	r.tb.WaitTelemetry(tbtest.Self, "OS", func(v any) bool { return v == "tbgw os" }, 15*time.Second)
	r.tb.WaitTelemetry(tbtest.Self, "big", func(v any) bool { return v == strings.Repeat("x", 100) }, 15*time.Second)
	// tick runs again on its own period; answer (hourly) does not.
	r.tb.Wait(15*time.Second, "tick repeated", func() bool {
		n := 0
		for _, ts := range r.tb.Telemetry(tbtest.Self) {
			if _, ok := ts.Values["tick"]; ok {
				n++
			}
		}
		return n >= 3
	})
	answers := 0
	for _, ts := range r.tb.Telemetry(tbtest.Self) {
		if _, ok := ts.Values["answer"]; ok {
			answers++
		}
		if _, ok := ts.Values["slow"]; ok {
			t.Fatal("a timed-out command sent a value")
		}
		if _, ok := ts.Values["machineStats"]; ok {
			t.Fatal("regular statistics sent although disabled")
		}
	}
	if answers != 1 {
		t.Fatalf("answer sent %d times", answers)
	}
}

// Upstream's shipped statistics files load (commands as argument lists).
func TestUpstreamStatisticsFiles(t *testing.T) {
	for _, f := range []string{"statistics_linux.json", "statistics_macos.json", "statistics_windows.json"} {
		cmds, err := loadCustomStats(filepath.Join("..", "testdata", "upstream", "statistics"), f)
		if err != nil || len(cmds) == 0 {
			t.Fatalf("%s: %d commands, %v", f, len(cmds), err)
		}
		for _, c := range cmds {
			if c.Key == "" || len(c.argv) == 0 || c.timeout() <= 0 {
				t.Errorf("%s: %+v", f, c)
			}
		}
	}
}
