package main

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// productTags reads TBGW_PRODUCT_TAGS, the build tags of every shipped
// binary, from scripts/packaging/lib.sh.
func productTags(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("scripts/packaging/lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TBGW_PRODUCT_TAGS=([a-z0-9_.,]+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("no TBGW_PRODUCT_TAGS= line in scripts/packaging/lib.sh")
	}
	tags := strings.Split(string(m[1]), ",")
	if !slices.Contains(tags, "nethttpomithttp2") {
		t.Fatalf("TBGW_PRODUCT_TAGS %v lacks nethttpomithttp2", tags)
	}
	return tags
}

// missingTags returns the tags of want that the comma- or
// space-separated list have lacks.
func missingTags(have string, want []string) []string {
	got := strings.FieldsFunc(have, func(r rune) bool { return r == ',' || r == ' ' })
	var miss []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			miss = append(miss, w)
		}
	}
	return miss
}

// checkProductBinary fails unless the binary at path records the product
// tags in its build settings (what `go version -m` prints; a stripped
// binary keeps them) and holds none of net/http's HTTP/2 code (whose
// messages all start "http2: ").
func checkProductBinary(t *testing.T, path string, want []string) {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tags := ""
	for _, s := range info.Settings {
		if s.Key == "-tags" {
			tags = s.Value
		}
	}
	if miss := missingTags(tags, want); len(miss) > 0 {
		t.Errorf("%s built with -tags=%q: lacks %v", filepath.Base(path), tags, miss)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte("http2: ")); n > 0 {
		t.Errorf("%s holds net/http's HTTP/2 (%d \"http2: \" strings)", filepath.Base(path), n)
	}
}

// TestProductBuildsOmitHTTP2: every way this tree builds a tbgw binary to
// ship, or to test as shipped, passes the product tags (nethttpomithttp2:
// no HTTP/2 in net/http): `make build`, scripts/build.sh (the release
// binaries; deb.sh, oci.sh and the size budget use the same
// product_tags of scripts/packaging/lib.sh and their checks read the
// binaries' build settings), and the kernel rig's tbgw binaries. The
// Buildroot, Yocto and OpenWrt recipes are checked by their check
// scripts, scripts/rig by its own test.
func TestProductBuildsOmitHTTP2(t *testing.T) {
	want := productTags(t)

	t.Run("make build", func(t *testing.T) {
		if _, err := exec.LookPath("make"); err != nil {
			t.Skip("no make")
		}
		for _, tags := range []string{"", "custom,drivers.rest"} {
			out, err := exec.Command("make", "-n", "build", "TAGS="+tags).CombinedOutput()
			if err != nil {
				t.Fatalf("make -n build: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`go build .*-tags "([^"]*)"`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("make build TAGS=%q passes no -tags:\n%s", tags, out)
			}
			if miss := missingTags(string(m[1]), want); len(miss) > 0 {
				t.Errorf("make build TAGS=%q: -tags %q lacks %v", tags, m[1], miss)
			}
			if miss := missingTags(string(m[1]), strings.Split(tags, ",")); tags != "" && len(miss) > 0 {
				t.Errorf("make build TAGS=%q: -tags %q lacks %v", tags, m[1], miss)
			}
		}
	})

	t.Run("scripts/build.sh", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the binary")
		}
		// With the REST connector alone: the HTTP/2 server code would be
		// linked without the tag.
		out := t.TempDir()
		cmd := exec.Command("bash", "scripts/build.sh", "amd64")
		cmd.Env = append(os.Environ(), "OUT="+out, "VERSION=test", "TAGS=custom,drivers.rest")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/build.sh: %v\n%s", err, b)
		}
		checkProductBinary(t, filepath.Join(out, "tbgw-linux-amd64"), append([]string{"custom", "drivers.rest"}, want...))
	})

	t.Run("kernel rig", func(t *testing.T) {
		raw, err := os.ReadFile("scripts/kernel-tests.txt")
		if err != nil {
			t.Fatal(err)
		}
		// gobin=/dst=pkg or /dst=pkg#tags: the tbgw binaries are pkg ".".
		n := 0
		for _, m := range regexp.MustCompile(`gobin=(/[^=\s]+)=\.(?:#(\S+))?(\s|$)`).FindAllSubmatch(raw, -1) {
			n++
			if miss := missingTags(string(m[2]), want); len(miss) > 0 {
				t.Errorf("kernel rig binary %s (tags %q) lacks %v", m[1], m[2], miss)
			}
		}
		if n == 0 {
			t.Error("no tbgw binary (gobin=...=.) in scripts/kernel-tests.txt")
		}
	})
}
