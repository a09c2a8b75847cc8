package main

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	// VAR[flag] op "value", with :override suffixes; the operators of
	// bitbake's grammar.
	bbAssign   = regexp.MustCompile(`^(export\s+)?([A-Za-z0-9_${}@.+/\-]+)((?::[A-Za-z0-9_${}.\-]+)*)(\[[A-Za-z0-9_\-.]+\])?\s*(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*(.*)$`)
	bbOldStyle = regexp.MustCompile(`^[A-Z0-9_]+_(append|prepend|remove)(_|\s|\[|$)|_\$\{PN\}\s*[?:+.]?=`)
	bbDirect   = regexp.MustCompile(`^(inherit|require|include|addtask|deltask|addhandler|EXPORT_FUNCTIONS|inherit_defer)\b`)
	bbFunc     = regexp.MustCompile(`^(python\s+)?(fakeroot\s+)?[A-Za-z0-9_\-${}:.]+\s*\(\)\s*\{$|^python\s*\{$|^python\s+__anonymous\s*\(\)\s*\{$`)
	bbDef      = regexp.MustCompile(`^def\s+[A-Za-z_][A-Za-z0-9_]*\(.*\):$`)
	bbLicFile  = regexp.MustCompile(`file://src/\$\{GO_IMPORT\}/([^;]+);md5=([0-9a-f]{32})`)
)

// lintRecipe checks bitbake recipe syntax the way the parser reads it:
// every statement an assignment (with bitbake's operators and :override
// syntax, not the old _append style), a directive, a shell or python
// function or a def; quotes closed, backslash continuations inside the
// quotes. For a .bb also the variables a recipe must have and its own
// license checksum against the tree's file.
func lintRecipe(root, text string, r report) {
	lintCommon(root, text, r)
	ls := lines(text)
	set := map[string]bool{}
	for i := 0; i < len(ls); i++ {
		n := i + 1
		l := ls[i]
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if l != strings.TrimLeft(l, " \t") {
			r.add(n, "statement indented")
		}
		switch {
		case bbFunc.MatchString(t):
			// A function body runs to a line that is exactly "}".
			j := i + 1
			for j < len(ls) && ls[j] != "}" {
				j++
			}
			if j == len(ls) {
				r.add(n, "function without a closing } at the start of a line")
			}
			i = j
			continue
		case bbDef.MatchString(t):
			// A python def runs while lines are indented (or empty).
			j := i + 1
			for j < len(ls) && (ls[j] == "" || strings.HasPrefix(ls[j], " ") || strings.HasPrefix(ls[j], "\t")) {
				if strings.HasPrefix(ls[j], "\t") {
					r.add(j+1, "python: indent with spaces")
				}
				j++
			}
			i = j - 1
			continue
		case bbDirect.MatchString(t):
			continue
		}
		if bbOldStyle.MatchString(t) {
			r.add(n, "old override syntax: use VAR:append, VAR:${PN}")
		}
		m := bbAssign.FindStringSubmatch(t)
		if m == nil {
			r.add(n, "not a bitbake statement")
			continue
		}
		if m[4] == "" {
			set[m[2]] = true
		}
		val := m[6]
		// The value: a quoted string, possibly continued over lines with
		// a trailing backslash.
		q := byte('"')
		if strings.HasPrefix(val, "'") {
			q = '\''
		} else if !strings.HasPrefix(val, `"`) {
			r.add(n, "value not quoted")
			continue
		}
		full := val
		for !closed(full, q) {
			if !strings.HasSuffix(full, "\\") {
				r.add(n, "unterminated value")
				break
			}
			i++
			if i == len(ls) {
				r.add(n, "unterminated value")
				break
			}
			full = strings.TrimSuffix(full, "\\") + ls[i]
		}
		if closed(full, q) && strings.TrimSpace(full[strings.LastIndexByte(full, q)+1:]) != "" {
			r.add(n, "text after the closing quote")
		}
		if strings.Contains(full, "${@") && strings.Count(full, "{") != strings.Count(full, "}") {
			r.add(n, "unbalanced braces in an inline python expression")
		}
	}
	if !strings.HasSuffix(r.file, ".bb") {
		return
	}
	for _, v := range []string{"SUMMARY", "LICENSE", "LIC_FILES_CHKSUM", "SRC_URI"} {
		if !set[v] {
			r.add(0, "%s is not set", v)
		}
	}
	if set["GO_IMPORT"] || strings.Contains(text, "inherit go") {
		if !regexp.MustCompile(`(?m)^inherit\s.*\bgo(-mod)?\b`).MatchString(text) {
			r.add(0, "a Go recipe inherits go-mod")
		}
	}
	for _, m := range bbLicFile.FindAllStringSubmatch(text, -1) {
		b, err := os.ReadFile(filepath.Join(root, m[1]))
		if err != nil {
			r.add(0, "LIC_FILES_CHKSUM names %s, not in the tree", m[1])
			continue
		}
		sum := md5.Sum(b)
		if got := hex.EncodeToString(sum[:]); got != m[2] {
			r.add(0, "md5 of %s is %s, the recipe says %s", m[1], got, m[2])
		}
	}
	// Every require'd file sits beside the recipe.
	for _, m := range regexp.MustCompile(`(?m)^require\s+(\S+)`).FindAllStringSubmatch(text, -1) {
		name := strings.ReplaceAll(m[1], "${BPN}", strings.SplitN(strings.TrimSuffix(filepath.Base(r.file), ".bb"), "_", 2)[0])
		if _, err := os.Stat(filepath.Join(root, filepath.Dir(r.file), name)); err != nil {
			r.add(0, "require %s: no such file beside the recipe", m[1])
		}
	}
	// Every file:// entry of SRC_URI is in files/ beside the recipe.
	for _, m := range regexp.MustCompile(`file://([^\s;"]+)`).FindAllStringSubmatch(text, -1) {
		if strings.HasPrefix(m[1], "src/") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, filepath.Dir(r.file), "files", m[1])); err != nil {
			r.add(0, "SRC_URI file://%s: not in files/", m[1])
		}
	}
}

// closed reports whether s (starting with the quote q) has its closing
// quote.
func closed(s string, q byte) bool {
	return len(s) >= 2 && strings.IndexByte(s[1:], q) >= 0
}

// lintLayerConf checks a layer.conf: the statements and the keys bitbake
// and the Yocto compatibility check need, named after the collection.
func lintLayerConf(root, text string, r report) {
	lintRecipe(root, text, r)
	m := regexp.MustCompile(`(?m)^BBFILE_COLLECTIONS\s*\+=\s*"([^"]+)"`).FindStringSubmatch(text)
	if m == nil {
		r.add(0, `BBFILE_COLLECTIONS += "<name>" missing`)
		return
	}
	name := strings.TrimSpace(m[1])
	for _, k := range []string{"BBPATH", "BBFILES", "BBFILE_PATTERN_" + name, "BBFILE_PRIORITY_" + name,
		"LAYERSERIES_COMPAT_" + name, "LAYERDEPENDS_" + name} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + `\s*(\.=|\+=|=|\?=)`).MatchString(text) {
			r.add(0, "%s is not set", k)
		}
	}
}
