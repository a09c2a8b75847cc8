package main

import (
	"bytes"
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: peer x not available\n"}
{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p","Elapsed":1.5}
`

func TestSkipNotAllowed(t *testing.T) {
	var out bytes.Buffer
	if code := report(strings.NewReader(stream), &out, nil); code != 1 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "SKIP p.TestB: b_test.go:9: peer x not available (NOT on the allowlist)") ||
		!strings.Contains(out.String(), "tests: 1 passed, 0 failed, 1 skipped") {
		t.Fatal(out.String())
	}
}

func TestSkipAllowed(t *testing.T) {
	var out bytes.Buffer
	if code := report(strings.NewReader(stream), &out, []allow{{"p.TestB*", "needs x"}}); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}

func TestFailureShowsOutput(t *testing.T) {
	in := `{"Action":"output","Package":"p","Test":"TestC","Output":"boom\n"}
{"Action":"fail","Package":"p","Test":"TestC"}
{"Action":"fail","Package":"p","Elapsed":1}
`
	var out bytes.Buffer
	if code := report(strings.NewReader(in), &out, nil); code != 1 || !strings.Contains(out.String(), "--- FAIL p.TestC\nboom") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}

func TestNothingRan(t *testing.T) {
	var out bytes.Buffer
	if code := report(strings.NewReader(""), &out, nil); code != 1 {
		t.Fatal(code)
	}
}
