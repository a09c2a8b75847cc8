package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tbgw/tbgw"

// TestImportDirection enforces the package graph: codec, wal and the
// connector contract import nothing of tbgw but the data model (codec only
// its own subpackages); drivers import only codec, the contract and each
// other; the connector kit (drivers/kit) only codec, the contract and
// itself; gw never imports a driver, only the kit.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if msg := forbidden(rel, dep); msg != "" {
				t.Errorf("%s imports %s: %s", rel, dep, msg)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d packages listed", n)
	}
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func forbidden(pkg, dep string) string {
	switch {
	case pkg == "codec/model":
		return "the data model imports nothing of tbgw"
	case under(pkg, "codec"):
		if !under(dep, "codec") {
			return "codec imports only codec packages"
		}
	case pkg == "wal":
		return "wal imports nothing of tbgw"
	case pkg == "gw/connector":
		if dep != "codec/model" {
			return "the connector contract imports only the data model (codec/model)"
		}
	case under(pkg, "drivers/kit"):
		if !under(dep, "codec") && dep != "gw/connector" && !under(dep, "drivers/kit") {
			return "the connector kit imports only codec, gw/connector and itself"
		}
	case under(pkg, "drivers"):
		if !under(dep, "codec") && dep != "gw/connector" && !under(dep, "drivers") {
			return "drivers import only codec, gw/connector and drivers"
		}
	case under(pkg, "gw"):
		if under(dep, "drivers") && !under(dep, "drivers/kit") {
			return "gw never imports a driver (only the connector kit)"
		}
	}
	return ""
}
