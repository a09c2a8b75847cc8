package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A finding is one rule violation at a file and line (0: the whole file).
type finding struct {
	file string
	line int
	msg  string
}

func (f finding) String() string { return fmt.Sprintf("%s:%d: %s", f.file, f.line, f.msg) }

// report collects findings for one file.
type report struct {
	file string
	out  *[]finding
}

func (r report) add(line int, format string, args ...any) {
	*r.out = append(*r.out, finding{r.file, line, fmt.Sprintf(format, args...)})
}

func main() {
	root := flag.String("root", ".", "source tree")
	flag.Parse()
	fs, err := lintTree(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkglint:", err)
		os.Exit(2)
	}
	for _, f := range fs {
		fmt.Println(f)
	}
	if len(fs) > 0 {
		fmt.Printf("pkglint: %d findings\n", len(fs))
		os.Exit(1)
	}
	fmt.Println("pkglint: OK")
}

// lintTree runs every rule on the packaging files under root.
func lintTree(root string) ([]finding, error) {
	var out []finding
	read := func(rel string) (string, report, error) {
		b, err := os.ReadFile(filepath.Join(root, rel))
		return string(b), report{rel, &out}, err
	}
	type job struct {
		glob string
		fn   func(root, text string, r report)
	}
	jobs := []job{
		{"buildroot/package/*/*.mk", lintBuildrootMk},
		{"buildroot/external.mk", lintCommon},
		{"buildroot/Config.in", lintConfigIn},
		{"buildroot/package/*/Config.in", lintConfigIn},
		{"buildroot/package/*/*.hash", lintHash},
		{"buildroot/external.desc", lintExternalDesc},
		{"etc/init.d/S*", lintShell},
		{"openwrt/*/Makefile", lintOpenWrtMakefile},
		{"openwrt/*/files/*.init", lintProcdInit},
		{"openwrt/*/files/*.config", lintCommon},
		{"yocto/*/conf/layer.conf", lintLayerConf},
		{"yocto/*/recipes-*/*/*.bb", lintRecipe},
		{"yocto/*/recipes-*/*/*.inc", lintRecipe},
		{"yocto/*/recipes-*/*/files/*", lintCommon},
	}
	seen := 0
	for _, j := range jobs {
		matches, err := filepath.Glob(filepath.Join(root, j.glob))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			rel, _ := filepath.Rel(root, m)
			text, r, err := read(rel)
			if err != nil {
				return nil, err
			}
			j.fn(root, text, r)
			seen++
		}
	}
	if seen == 0 {
		return nil, fmt.Errorf("no packaging files under %s", root)
	}
	sort.SliceStable(out, func(i, k int) bool {
		if out[i].file != out[k].file {
			return out[i].file < out[k].file
		}
		return out[i].line < out[k].line
	})
	return out, nil
}

// lines splits text into lines without the final newline's empty tail.
func lines(text string) []string {
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}
