// Command testreport reads `go test -json` output on stdin and prints a
// short report: one line per package, the output of every failed test,
// every skipped test with its reason, and a closing line
// "tests: N passed, N failed, N skipped". It exits non-zero when a test
// or package failed, when nothing ran, or when a test was skipped that the
// allowlist (-allow FILE) does not name.
//
// Allowlist lines are "<import path>.<TestName> <reason>"; TestName may
// end in "*" to cover a prefix (subtests). '#' starts a comment.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type allow struct {
	pattern, reason string
}

func loadAllow(path string) ([]allow, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []allow
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: an allowed skip needs a reason", path, i+1)
		}
		out = append(out, allow{pat, strings.TrimSpace(reason)})
	}
	return out, nil
}

func allowed(list []allow, name string) (string, bool) {
	for _, a := range list {
		if a.pattern == name || (strings.HasSuffix(a.pattern, "*") && strings.HasPrefix(name, strings.TrimSuffix(a.pattern, "*"))) {
			return a.reason, true
		}
	}
	return "", false
}

func main() {
	allowFile := flag.String("allow", "", "allowlist of skips")
	log := flag.String("log", "", "also copy the raw stream here")
	flag.Parse()
	list, err := loadAllow(*allowFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	var in io.Reader = os.Stdin
	if *log != "" {
		f, err := os.Create(*log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = io.TeeReader(os.Stdin, f)
	}
	os.Exit(report(in, os.Stdout, list))
}

func report(in io.Reader, w io.Writer, list []allow) int {
	output := map[string][]string{} // pkg.test -> output lines
	var passed, failed, skipped, badSkips int
	var failures, skips []string
	pkgFailed := map[string]bool{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Build errors and the like come as plain lines.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		id := e.Package + "." + e.Test
		switch e.Action {
		case "output":
			if len(output[id]) < 400 {
				output[id] = append(output[id], e.Output)
			}
		case "pass":
			if e.Test != "" {
				passed++
			} else {
				fmt.Fprintf(w, "ok   %s %.1fs\n", e.Package, e.Elapsed)
			}
			delete(output, id)
		case "fail":
			if e.Test != "" {
				failed++
				failures = append(failures, id)
			} else {
				pkgFailed[e.Package] = true
				fmt.Fprintf(w, "FAIL %s %.1fs\n", e.Package, e.Elapsed)
			}
		case "skip":
			if e.Test == "" {
				delete(output, id)
				continue // a package without tests
			}
			skipped++
			reason := skipReason(output[id])
			if why, ok := allowed(list, id); ok {
				skips = append(skips, fmt.Sprintf("SKIP %s: %s (allowed: %s)", id, reason, why))
			} else {
				badSkips++
				skips = append(skips, fmt.Sprintf("SKIP %s: %s (NOT on the allowlist)", id, reason))
			}
			delete(output, id)
		}
	}
	sort.Strings(failures)
	for _, id := range failures {
		fmt.Fprintf(w, "\n--- FAIL %s\n", id)
		for _, l := range output[id] {
			fmt.Fprint(w, l)
		}
	}
	for pkg := range pkgFailed {
		if out := output[pkg+"."]; len(out) > 0 {
			fmt.Fprintf(w, "\n--- package %s output\n", pkg)
			for _, l := range out[max(0, len(out)-60):] {
				fmt.Fprint(w, l)
			}
		}
	}
	if len(skips) > 0 {
		fmt.Fprintln(w)
		for _, s := range skips {
			fmt.Fprintln(w, s)
		}
	}
	fmt.Fprintf(w, "\ntests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case failed > 0 || len(pkgFailed) > 0:
		return 1
	case badSkips > 0:
		fmt.Fprintf(w, "%d skipped tests are not on the allowlist: a skip is a failed promise\n", badSkips)
		return 1
	case passed == 0:
		fmt.Fprintln(w, "no test ran")
		return 1
	}
	return 0
}

// skipReason is the last t.Skip message in a test's output.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}
