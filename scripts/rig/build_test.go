package rig

import (
	"debug/buildinfo"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestBuildGatewayProductTags: BuildGateway builds as shipped, with the
// product tags of scripts/packaging/lib.sh (ProductTags names the same)
// and the connector tags asked for, recorded in the binary's build
// settings.
func TestBuildGatewayProductTags(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "scripts/packaging/lib.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TBGW_PRODUCT_TAGS=(\S+)$`).FindSubmatch(raw)
	if m == nil || !slices.Equal(strings.Split(string(m[1]), ","), ProductTags) {
		t.Fatalf("ProductTags %v, scripts/packaging/lib.sh: %q", ProductTags, m)
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := BuildGateway(t.TempDir(), "custom", "drivers.rest")
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, s := range info.Settings {
		if s.Key == "-tags" {
			tags = strings.Split(s.Value, ",")
		}
	}
	for _, w := range append([]string{"custom", "drivers.rest"}, ProductTags...) {
		if !slices.Contains(tags, w) {
			t.Errorf("built with -tags=%s: lacks %s", strings.Join(tags, ","), w)
		}
	}
}
