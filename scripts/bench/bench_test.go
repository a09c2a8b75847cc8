package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

// requireMosquitto skips without mosquitto, or fails under
// TBGW_REQUIRE_PEERS=1.
func requireMosquitto(t *testing.T) {
	t.Helper()
	if _, err := rig.FindMosquitto(); err != nil {
		if os.Getenv("TBGW_REQUIRE_PEERS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestBenchShort runs every benchmark scenario for seconds against a
// freshly built binary: a correctness check of the whole path (nothing
// accepted is lost, the gateway stops cleanly). It asserts no figure.
func TestBenchShort(t *testing.T) {
	requireMosquitto(t)
	bin, err := rig.BuildGateway(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := defaults()
	o.shorten()
	o.Bin, o.Work = bin, t.TempDir()
	if dir := os.Getenv("TBGW_RIG_WORK"); dir != "" { // keep logs and data for a look
		o.Work = dir
	}
	all := o.Scenarios
	if s := os.Getenv("TBGW_RIG_SCENARIOS"); s != "" { // a subset, while debugging
		o.Scenarios = s
	}
	rows, err := run(context.Background(), o)
	var b strings.Builder
	rig.WriteTable(&b, rows)
	t.Logf("\n%s", b.String())
	if err != nil {
		t.Fatal(err)
	}
	if all == o.Scenarios && len(rows) < 9 {
		t.Fatalf("%d result rows, want every scenario", len(rows))
	}
	for _, r := range rows {
		if r.Lost != 0 {
			t.Errorf("%s: %d accepted messages lost", r.Scenario, r.Lost)
		}
	}
}

func TestParseFloorLine(t *testing.T) {
	kv, err := parseFloorLine("msgs_per_s=100.0 rounds_per_s=20.10 cpu_pct=0.4800 ms_per_1000dp=15.90 us_per_round=239.0 csw_per_s=100.3\n")
	if err != nil {
		t.Fatal(err)
	}
	if kv["ms_per_1000dp"] != 15.9 || kv["rounds_per_s"] != 20.1 {
		t.Fatalf("parsed %v", kv)
	}
	for _, bad := range []string{"", "msgs_per_s=1", "msgs_per_s=x rounds_per_s=1", "garbage"} {
		if _, err := parseFloorLine(bad); err == nil {
			t.Errorf("parseFloorLine(%q) took it", bad)
		}
	}
}

// TestGoFloorShort runs the Go floor (not in the default scenarios, so
// TestBenchShort leaves it out) for a second at each storage: it builds,
// its children connect, and its line parses into two rows per rate.
func TestGoFloorShort(t *testing.T) {
	o := defaults()
	o.shorten()
	o.Work, o.Scenarios, o.AnchorRates = t.TempDir(), "gofloor", "200"
	o.Duration, o.Warmup = time.Second, 500*time.Millisecond
	b := &bench{o: o, ctx: context.Background()}
	if err := b.steps(true); err != nil {
		t.Fatal(err)
	}
	if len(b.rows) != 2 {
		t.Fatalf("%d rows, want gofloor→wal and gofloor→memory", len(b.rows))
	}
	for _, r := range b.rows {
		if !strings.HasPrefix(r.Scenario, "gofloor→") || r.Delivered <= 0 || r.CPUPer1k <= 0 {
			t.Errorf("row %+v", r)
		}
	}
}
