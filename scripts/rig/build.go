package rig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ProductTags are the build tags every shipped tbgw binary has, whatever
// its connectors (TBGW_PRODUCT_TAGS of scripts/packaging/lib.sh):
// nethttpomithttp2 leaves out net/http's HTTP/2, which tbgw never speaks.
var ProductTags = []string{"nethttpomithttp2"}

// BuildGateway builds the tbgw binary (CGO_ENABLED=0, with ProductTags
// and the connector tags given: as shipped) into dir and returns its
// path. Tests use it to measure the current source.
func BuildGateway(dir string, tags ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "tbgw")
	args := []string{"build", "-trimpath", "-ldflags", "-s -w -X main.version=rig", "-o", out}
	args = append(args, "-tags", strings.Join(append(tags[:len(tags):len(tags)], ProductTags...), ","))
	cmd := exec.Command(goBin, append(args, ".")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
}
