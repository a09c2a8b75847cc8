package main

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	mkAssign      = regexp.MustCompile(`^([A-Za-z0-9_.\-$()]+)\s*(\+=|\?=|:=|=)`)
	mkDefine      = regexp.MustCompile(`^define\s+(\S+)`)
	mkCond        = regexp.MustCompile(`^(ifeq|ifneq|ifdef|ifndef|else|endif)\b`)
	mkBraces      = regexp.MustCompile(`(^|[^$])\$\{`)
	mkUselessFlag = regexp.MustCompile(`_(INSTALL_STAGING\s*=\s*NO|INSTALL_TARGET\s*=\s*YES|AUTORECONF\s*=\s*NO|LIBTOOL_PATCH\s*=\s*YES)\s*$`)
	mkDefaultSrc  = regexp.MustCompile(`^([A-Z0-9_]+)_SOURCE\s*=\s*(\S+)-\$\(([A-Z0-9_]+)_VERSION\)\.tar\.gz\s*$`)
	mkSpaceBS     = regexp.MustCompile(`[^ \t]\\$|[ \t]{2,}\\$`)
)

// lintBuildrootMk checks a package .mk the way Buildroot's check-package
// does (header, tab indentation, typos in package variables, variables
// overridden under a condition, ${} braces, useless default flags,
// backslashes) plus what current Buildroot's golang-package rejects.
func lintBuildrootMk(root, text string, r report) {
	lintCommon(root, text, r)
	pkg := strings.TrimSuffix(filepath.Base(r.file), ".mk")
	prefix := strings.ToUpper(strings.ReplaceAll(pkg, "-", "_")) + "_"
	ls := lines(text)
	header := []string{strings.Repeat("#", 80), "#", "# " + pkg, "#", strings.Repeat("#", 80), ""}
	for i, want := range header {
		if i >= len(ls) || ls[i] != want {
			r.add(i+1, "package header: want %q", want)
			break
		}
	}
	assigned := map[string]int{} // plain assignments (= :=) outside conditions, by variable
	depth := 0                   // conditional nesting
	inDefine := false
	cont := false // the previous line ended with a backslash
	for i, l := range ls {
		n := i + 1
		t := strings.TrimSpace(l)
		wasCont := cont
		cont = strings.HasSuffix(l, "\\") && !strings.HasPrefix(t, "#")
		if cont && mkSpaceBS.MatchString(l) {
			r.add(n, "one space before a backslash")
		}
		if !cont && wasCont && t == "" {
			r.add(n-1, "a backslash ends the previous line")
		}
		if mkBraces.MatchString(l) && !strings.HasPrefix(t, "#") {
			r.add(n, "use $() for make variables, not ${}")
		}
		if inDefine {
			if t == "endef" {
				inDefine = false
				continue
			}
			if t != "" && !strings.HasPrefix(l, "\t") {
				r.add(n, "define body: indent with a tab")
			}
			continue
		}
		if wasCont {
			if t != "" && !strings.HasPrefix(l, "\t") {
				r.add(n, "continuation line: indent with a tab")
			}
			continue
		}
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if l != strings.TrimLeft(l, " \t") {
			r.add(n, "unexpected indentation")
		}
		if m := mkDefine.FindStringSubmatch(t); m != nil {
			inDefine = true
			checkPkgVar(r, n, prefix, m[1])
			continue
		}
		if m := mkCond.FindStringSubmatch(t); m != nil {
			switch m[1] {
			case "ifeq", "ifneq", "ifdef", "ifndef":
				depth++
			case "endif":
				depth--
			}
			continue
		}
		if strings.HasPrefix(t, "include ") || strings.HasPrefix(t, "$(eval ") {
			continue
		}
		m := mkAssign.FindStringSubmatch(t)
		if m == nil {
			r.add(n, "unexpected line")
			continue
		}
		name, op := m[1], m[2]
		checkPkgVar(r, n, prefix, name)
		if name == prefix+"INSTALL_BINS" {
			r.add(n, "%s is rejected by Buildroot 2025.11 and later (golang-package)", name)
		}
		if mkUselessFlag.MatchString(t) {
			r.add(n, "useless flag: it is the default")
		}
		if mm := mkDefaultSrc.FindStringSubmatch(t); mm != nil && mm[1]+"_" == prefix && mm[3]+"_" == prefix {
			r.add(n, "remove the default %sSOURCE", prefix)
		}
		if op == "=" || op == ":=" {
			if prev, ok := assigned[name]; ok {
				r.add(n, "%s overrides the value set on line %d", name, prev)
			}
			if depth > 0 {
				if _, ok := assigned[name]; ok {
					continue
				}
			}
			assigned[name] = n
		}
	}
	if inDefine {
		r.add(len(ls), "define without endef")
	}
	if depth != 0 {
		r.add(len(ls), "unbalanced conditionals")
	}
	last := ""
	for i := len(ls) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(ls[i]); t != "" {
			last = t
			break
		}
	}
	if !regexp.MustCompile(`^\$\(eval \$\((host-)?[a-z]+-package\)\)$`).MatchString(last) {
		r.add(len(ls), "the last line must be $(eval $(<infra>-package))")
	}
}

// checkPkgVar reports a variable that is not the package's own (typos
// like TGBW_SITE are silently ignored by make).
func checkPkgVar(r report, n int, prefix, name string) {
	if strings.HasPrefix(name, prefix) || strings.HasPrefix(name, "HOST_"+prefix) {
		return
	}
	for _, ok := range []string{"BR2_", "TARGET_", "HOST_GO_", "GO_"} {
		if strings.HasPrefix(name, ok) && strings.Contains(name, prefix) {
			return
		}
	}
	r.add(n, "%s: possible typo, package variables start with %s", name, prefix)
}

var (
	cfgTop    = regexp.MustCompile(`^(config|menuconfig|if|endif|menu|endmenu|choice|endchoice|source|comment)\b`)
	cfgConfig = regexp.MustCompile(`^(?:menu)?config\s+(\S+)`)
	cfgAttr   = regexp.MustCompile(`^\t(bool|tristate|string|int|hex|prompt|default|depends on|select|imply|range|help)\b`)
)

// attribute order check-package wants within a config entry.
var cfgOrder = map[string]int{"bool": 1, "tristate": 1, "string": 1, "int": 1, "hex": 1, "prompt": 1,
	"default": 2, "depends on": 3, "select": 4, "imply": 4, "range": 4, "help": 5}

// lintConfigIn checks a Config.in: tab indentation, attribute order,
// help text <tab><2 spaces> within 62 columns, no symbol defined twice,
// balanced if/endif, symbols of the external's own namespace.
func lintConfigIn(root, text string, r report) {
	lintCommon(root, text, r)
	ls := lines(text)
	defined := map[string]int{}
	depth := 0
	inHelp := false
	order := 0
	for i, l := range ls {
		n := i + 1
		t := strings.TrimSpace(l)
		if inHelp {
			if t == "" {
				continue
			}
			if strings.HasPrefix(l, "\t  ") {
				body := strings.TrimPrefix(l, "\t  ")
				if len([]rune(body)) > 62 && !regexp.MustCompile(`^(https?|git)://\S*$`).MatchString(body) {
					r.add(n, "help text: <tab><2 spaces><62 chars>")
				}
				continue
			}
			inHelp = false
		}
		if t == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if cfgTop.MatchString(l) {
			order = 0
			if m := cfgConfig.FindStringSubmatch(l); m != nil {
				sym := m[1]
				if !strings.HasPrefix(sym, "BR2_PACKAGE_") {
					r.add(n, "%s: external symbols start with BR2_PACKAGE_", sym)
				}
				if prev, ok := defined[sym]; ok {
					r.add(n, "%s already defined on line %d", sym, prev)
				}
				defined[sym] = n
			}
			switch {
			case strings.HasPrefix(l, "if "):
				depth++
			case t == "endif":
				depth--
			}
			continue
		}
		m := cfgAttr.FindStringSubmatch(l)
		if m == nil {
			r.add(n, "should be indented with one tab (attributes) or <tab><2 spaces> (help)")
			continue
		}
		o := cfgOrder[m[1]]
		if o < order {
			r.add(n, "attributes order: type, default, depends on, select, help")
		}
		order = o
		if m[1] == "help" {
			inHelp = true
		}
	}
	if depth != 0 {
		r.add(len(ls), "unbalanced if/endif")
	}
}

var hashLen = map[string]int{"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}

// lintHash checks a .hash file: "<type><2 spaces><hash><2 spaces><file>",
// known types and lengths, and (beyond check-package) that each hash of a
// license file in the tree matches the file.
func lintHash(root, text string, r report) {
	lintCommon(root, text, r)
	for i, l := range lines(text) {
		n := i + 1
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "  ")
		if len(f) != 3 || strings.ContainsAny(f[0]+f[1], " \t") {
			r.add(n, "expected <type><2 spaces><hash><2 spaces><file>")
			continue
		}
		want, ok := hashLen[f[0]]
		if !ok {
			r.add(n, "unexpected hash type %q", f[0])
			continue
		}
		if len(f[1]) != want || strings.Trim(f[1], "0123456789abcdef") != "" {
			r.add(n, "%s hash must be %d lowercase hex digits", f[0], want)
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f[2]))
		if err != nil {
			// Not a file of this tree (a source tarball): nothing to compare.
			continue
		}
		var h hash.Hash
		switch f[0] {
		case "md5":
			h = md5.New()
		case "sha1":
			h = sha1.New()
		case "sha256", "sha224":
			h = sha256.New()
			if f[0] == "sha224" {
				h = sha256.New224()
			}
		default:
			h = sha512.New()
			if f[0] == "sha384" {
				h = sha512.New384()
			}
		}
		h.Write(b)
		if got := hex.EncodeToString(h.Sum(nil)); got != f[1] {
			r.add(n, "%s of %s is %s", f[0], f[2], got)
		}
	}
}

// lintExternalDesc checks the external tree's descriptor: a name usable
// as BR2_EXTERNAL_<name>_PATH, which the .mk files must use.
func lintExternalDesc(root, text string, r report) {
	lintCommon(root, text, r)
	name := ""
	for _, l := range lines(text) {
		if v, ok := strings.CutPrefix(l, "name: "); ok {
			name = v
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_]+$`).MatchString(name) {
		r.add(1, "name: must be [A-Za-z0-9_]+")
		return
	}
	mks, _ := filepath.Glob(filepath.Join(root, "buildroot", "*.mk"))
	cfg, _ := filepath.Glob(filepath.Join(root, "buildroot", "Config.in"))
	for _, f := range append(mks, cfg...) {
		b, _ := os.ReadFile(f)
		if !strings.Contains(string(b), "BR2_EXTERNAL_"+name+"_PATH") {
			rel, _ := filepath.Rel(root, f)
			r.add(0, "%s does not use BR2_EXTERNAL_%s_PATH", rel, name)
		}
	}
}

// lintShell checks an init script: a /bin/sh shebang (BusyBox has no
// bash), executable in the tree, and the common whitespace rules.
func lintShell(root, text string, r report) {
	lintCommon(root, text, r)
	first, _, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "#!/bin/sh") {
		r.add(1, "init scripts run under /bin/sh (BusyBox ash, procd's rc.common)")
	}
	if st, err := os.Stat(filepath.Join(root, r.file)); err == nil && st.Mode()&0o111 == 0 {
		r.add(0, "not executable")
	}
}
