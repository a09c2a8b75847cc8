package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/scripts/rig"
)

// TestChaosShort runs every fault scenario briefly against a freshly built
// binary and requires each verdict to pass: no accepted message lost
// (corrupt-tail: none but the destroyed ones), duplicates within the
// in-flight bounds. disk-full needs root for its tmpfs and is skipped
// otherwise. No timing is asserted.
func TestChaosShort(t *testing.T) {
	if _, err := rig.FindMosquitto(); err != nil {
		if os.Getenv("TBGW_REQUIRE_PEERS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
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
	if s := os.Getenv("TBGW_RIG_SCENARIOS"); s != "" { // a subset, while debugging
		o.Scenarios = s
	}
	vs, err := run(context.Background(), o)
	var b strings.Builder
	writeVerdicts(&b, vs)
	t.Logf("\n%s", b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(strings.Split(o.Scenarios, ",")) {
		t.Fatalf("%d verdicts, want one per scenario", len(vs))
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("%s: %v", v.Name, v.Err)
		}
		if v.Skipped != "" {
			t.Logf("%s skipped: %s", v.Name, v.Skipped)
		}
	}
}
