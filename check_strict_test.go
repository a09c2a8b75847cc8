package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An upstream file with one unusable entry is checked with a warning and
// runs without it; `check --strict` (or $TB_GW_STRICT_CONFIG=1) refuses it.
func TestCheckStrict(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tb_gateway.json"), []byte(`{"thingsboard": {"host": "h", "security": {"accessToken": "t"}},
  "connectors": [{"type": "mqtt", "name": "M", "configuration": "m.json"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "m.json"), []byte(`{"broker": {"host": "127.0.0.1"},
"requestsMapping": {"attributeUpdates": [
  {"deviceNameFilter": ".*", "attributeFilter": "", "topicExpression": "t", "valueExpression": "v"}]}}`), 0o644)
	const where = "m.json:3:3: requestsMapping.attributeUpdates[0]: "
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "-c", dir, "-data", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("check: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "warning: ") || !strings.Contains(stderr.String(), where) || !strings.Contains(stderr.String(), "entry skipped") {
		t.Errorf("check output:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"check", "--strict", "-c", dir, "-data", t.TempDir()}, &stdout, &stderr); code == 0 {
		t.Fatalf("check --strict accepted it:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "error: ") || !strings.Contains(stderr.String(), where) {
		t.Errorf("check --strict output:\n%s", stderr.String())
	}
	stderr.Reset()
	t.Setenv("TB_GW_STRICT_CONFIG", "1")
	if code := run([]string{"check", "-c", dir, "-data", t.TempDir()}, &stdout, &stderr); code == 0 {
		t.Fatalf("check with TB_GW_STRICT_CONFIG=1 accepted it:\n%s", stderr.String())
	}
}
