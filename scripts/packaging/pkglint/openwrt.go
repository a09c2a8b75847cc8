package main

import (
	"regexp"
	"strings"
)

var (
	owBuildPackage = regexp.MustCompile(`^\$\(eval \$\(call BuildPackage,([^)]+)\)\)$`)
	owGoBinPackage = regexp.MustCompile(`^\$\(eval \$\(call Go(Bin|Src)?Package,([^)]+)\)\)$`)
	owDefine       = regexp.MustCompile(`^define Package/([^/\s]+)(/(\S+))?$`)
	owAssign       = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)\s*(:=|\+=|\?=|=)`)
)

// lintOpenWrtMakefile checks an OpenWrt package Makefile on the Go feed's
// infrastructure: rules.mk first, the required PKG_ variables before
// package.mk, golang-package.mk after it, every package defined and
// built (GoBinPackage before BuildPackage), recipe lines tab-indented,
// conffiles for packages that install /etc, and a procd init script.
func lintOpenWrtMakefile(root, text string, r report) {
	lintCommon(root, text, r)
	ls := lines(text)
	first := ""
	for _, l := range ls {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			first = t
			break
		}
	}
	if first != "include $(TOPDIR)/rules.mk" {
		r.add(1, "the first statement must be include $(TOPDIR)/rules.mk")
	}
	vars := map[string]int{}
	includes := map[string]int{}
	defined := map[string]bool{} // Package/<name>
	parts := map[string]bool{}   // Package/<name>/<part>
	built := map[string]int{}
	goBuilt := map[string]int{}
	inDefine := ""
	for i, l := range ls {
		n := i + 1
		t := strings.TrimSpace(l)
		if inDefine != "" {
			if t == "endef" {
				inDefine = ""
				continue
			}
			// Recipe lines of Build/ and install sections run in a shell:
			// make needs the tab.
			recipe := strings.HasPrefix(inDefine, "Build/") || strings.HasSuffix(inDefine, "/install")
			if recipe && t != "" && !strings.HasPrefix(l, "\t") {
				r.add(n, "recipe line: indent with a tab")
			}
			continue
		}
		if strings.HasPrefix(t, "define ") {
			inDefine = strings.TrimSpace(strings.TrimPrefix(t, "define "))
			if m := owDefine.FindStringSubmatch(t); m != nil {
				if m[3] == "" {
					defined[m[1]] = true
				} else {
					parts[m[1]+"/"+m[3]] = true
				}
			}
			continue
		}
		if strings.HasPrefix(t, "include ") {
			includes[strings.TrimPrefix(t, "include ")] = n
			continue
		}
		if m := owBuildPackage.FindStringSubmatch(t); m != nil {
			built[m[1]] = n
			continue
		}
		if m := owGoBinPackage.FindStringSubmatch(t); m != nil {
			goBuilt[m[2]] = n
			continue
		}
		if m := owAssign.FindStringSubmatch(t); m != nil {
			if _, ok := vars[m[1]]; !ok {
				vars[m[1]] = n
			}
		}
		if m := regexp.MustCompile(`^Package/([^/\s]+)/(\S+)\s*=`).FindStringSubmatch(t); m != nil {
			parts[m[1]+"/"+m[2]] = true
		}
	}
	pkgmk, ok := includes["$(INCLUDE_DIR)/package.mk"]
	if !ok {
		r.add(0, "does not include $(INCLUDE_DIR)/package.mk")
	}
	for _, v := range []string{"PKG_NAME", "PKG_VERSION", "PKG_RELEASE", "PKG_LICENSE", "PKG_LICENSE_FILES", "PKG_MAINTAINER"} {
		line, ok := vars[v]
		switch {
		case !ok:
			r.add(0, "%s is not set", v)
		case pkgmk > 0 && line > pkgmk:
			r.add(line, "%s must be set before package.mk is included", v)
		}
	}
	if _, ok := vars["GO_PKG"]; ok {
		gomk := 0
		for inc, line := range includes {
			if strings.HasSuffix(inc, "/lang/golang/golang-package.mk") {
				gomk = line
			}
		}
		if gomk == 0 {
			r.add(0, "GO_PKG set but golang-package.mk not included")
		} else if gomk < pkgmk {
			r.add(gomk, "golang-package.mk must come after package.mk")
		}
		if _, ok := vars["PKG_BUILD_DEPENDS"]; !ok {
			r.add(0, "a Go package needs PKG_BUILD_DEPENDS:=golang/host")
		}
	}
	if len(built) == 0 {
		r.add(len(ls), "no $(eval $(call BuildPackage,...))")
	}
	for name, line := range built {
		if !defined[name] {
			r.add(line, "Package/%s is not defined", name)
		}
		if _, ok := vars["GO_PKG"]; ok {
			if g, ok := goBuilt[name]; !ok || g > line {
				r.add(line, "$(eval $(call GoBinPackage,%s)) must come before its BuildPackage", name)
			}
		}
		if !parts[name+"/install"] {
			r.add(line, "Package/%s/install is not defined", name)
		}
		if strings.Contains(text, "$(1)/etc/") && !parts[name+"/conffiles"] {
			r.add(line, "Package/%s installs into /etc without conffiles", name)
		}
	}
	if strings.Contains(text, "/etc/init.d/") && !strings.Contains(text, "files/") {
		r.add(0, "init script not from files/")
	}
}

// lintProcdInit checks what procd needs from an init script on top of
// the shell rules: rc.common, USE_PROCD, START and a start_service that
// opens and closes an instance.
func lintProcdInit(root, text string, r report) {
	lintShell(root, text, r)
	if !strings.HasPrefix(text, "#!/bin/sh /etc/rc.common\n") {
		r.add(1, "procd scripts start with #!/bin/sh /etc/rc.common")
	}
	for _, want := range []string{"USE_PROCD=1", "START=", "start_service()", "procd_open_instance", "procd_close_instance", "procd_set_param respawn"} {
		if !strings.Contains(text, want) {
			r.add(0, "missing %s", want)
		}
	}
}
