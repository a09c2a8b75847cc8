package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTree: the packaging files of this tree pass every rule.
func TestTree(t *testing.T) {
	fs, err := lintTree("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Error(f)
	}
}

// lintOne runs fn on text as file name in a temporary tree holding the
// extra files.
func lintOne(t *testing.T, fn func(string, string, report), name, text string, extra map[string]string) []finding {
	t.Helper()
	root := t.TempDir()
	for n, c := range extra {
		p := filepath.Join(root, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(root, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(text), 0o755)
	var out []finding
	fn(root, text, report{name, &out})
	return out
}

func wantFindings(t *testing.T, got []finding, want ...string) {
	t.Helper()
	var all []string
	for _, f := range got {
		all = append(all, f.String())
	}
	joined := strings.Join(all, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("no finding %q in:\n%s", w, joined)
		}
	}
	if len(want) == 0 && len(got) > 0 {
		t.Errorf("unexpected findings:\n%s", joined)
	}
}

const goodMk = `################################################################################
#
# foo
#
################################################################################

FOO_VERSION = 1.0
FOO_SITE = $(call github,x,foo,v$(FOO_VERSION))
FOO_LICENSE = MIT
FOO_LICENSE_FILES = LICENSE

define FOO_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/foo.conf $(TARGET_DIR)/etc/foo.conf
endef
FOO_POST_INSTALL_TARGET_HOOKS += FOO_INSTALL_CONFIG

$(eval $(golang-package))
`

func TestBuildrootMk(t *testing.T) {
	wantFindings(t, lintOne(t, lintBuildrootMk, "package/foo/foo.mk", goodMk, nil))
	bad := strings.Replace(goodMk, "# foo\n", "# bar\n", 1)
	bad = strings.Replace(bad, "FOO_LICENSE = MIT", "FOO_LICENSE = MIT\nFOO_INSTALL_BINS = foo\nFO_TAGS = x\nifeq ($(BR2_x),y)\nFOO_VERSION = 2.0\nendif\nFOO_SOURCE = foo-$(FOO_VERSION).tar.gz\nFOO_INSTALL_STAGING = NO\nFOO_X = ${FOO_VERSION}", 1)
	bad = strings.Replace(bad, "\t$(INSTALL)", "    $(INSTALL)", 1)
	bad = strings.Replace(bad, "$(eval $(golang-package))\n", "$(eval $(golang-package))\n\n", 1)
	wantFindings(t, lintOne(t, lintBuildrootMk, "package/foo/foo.mk", bad, nil),
		"package header", "FOO_INSTALL_BINS is rejected", "FO_TAGS: possible typo",
		"FOO_VERSION overrides", "remove the default FOO_SOURCE", "useless flag",
		"use $() for make variables", "define body: indent with a tab", "empty line at the end")
}

func TestConfigIn(t *testing.T) {
	good := "config BR2_PACKAGE_FOO\n\tbool \"foo\"\n\tdefault y\n\tdepends on BR2_USE_MMU\n\tselect BR2_PACKAGE_BAR\n\thelp\n\t  Foo.\n\n\t  https://example.com/a/very/long/url/that/is/longer/than/sixty/two/characters\n\nif BR2_PACKAGE_FOO\n\nconfig BR2_PACKAGE_FOO_X\n\tbool \"x\"\n\nendif\n"
	wantFindings(t, lintOne(t, lintConfigIn, "package/foo/Config.in", good, nil))
	bad := "config BR2_PACKAGE_FOO\n\tdepends on BR2_USE_MMU\n\tbool \"foo\"\n    help\n\thelp\n\t  " + strings.Repeat("x", 63) + "\n\nconfig BR2_PACKAGE_FOO\n\tbool \"again\"\nconfig FOO_X\n\tbool \"x\"\n\nif BR2_PACKAGE_FOO\n"
	wantFindings(t, lintOne(t, lintConfigIn, "package/foo/Config.in", bad, nil),
		"attributes order", "should be indented", "help text", "already defined", "external symbols start with", "unbalanced if/endif")
}

func TestHash(t *testing.T) {
	lic := "the license\n"
	good := "# Locally computed\nsha256  b95e04fdc9d5fe3d8bc0ac70ae2dc0e4a2e8a8e3e5ad9b3fae0fa40b4b8c2a5e  foo-1.0.tar.gz\n"
	wantFindings(t, lintOne(t, lintHash, "package/foo/foo.hash", good, map[string]string{"LICENSE": lic}))
	bad := "sha256 abc  LICENSE\nsha256  0000000000000000000000000000000000000000000000000000000000000000  LICENSE\nsha257  00  x\nmd5  ABC  y\n"
	wantFindings(t, lintOne(t, lintHash, "package/foo/foo.hash", bad, map[string]string{"LICENSE": lic}),
		":1: expected <type>", ":2: sha256 of LICENSE is", `unexpected hash type "sha257"`, "md5 hash must be 32")
}

const goodRecipe = `SUMMARY = "foo"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://src/${GO_IMPORT}/LICENSE;md5=f0e2b2b3e8a5e1f0d5b3f3a2b1c0d9e8"
GO_IMPORT = "example.com/foo"
SRC_URI = "git://example.com/foo.git;protocol=https;branch=main \
           file://foo.service \
           "
require ${BPN}-go-mods.inc
inherit go-mod systemd
PACKAGECONFIG[x] = ""
GOBUILDFLAGS:append = " -tags=${@foo_tags(d)}"

def foo_tags(d):
    return ''

do_install:append() {
    install -d ${D}${sysconfdir}
}
`

func TestRecipe(t *testing.T) {
	extra := map[string]string{"LICENSE": "mit\n", "recipes-x/foo/foo-go-mods.inc": "SRC_URI += \"\"\n", "recipes-x/foo/files/foo.service": "[Unit]\n"}
	got := lintOne(t, lintRecipe, "recipes-x/foo/foo_git.bb", goodRecipe, extra)
	// Only the deliberately wrong license checksum.
	if len(got) != 1 || !strings.Contains(got[0].msg, "md5 of LICENSE is") {
		t.Errorf("got %v", got)
	}
	bad := "SUMMARY_append = \" x\"\nLICENSE = \"MIT\nSRC_URI = unquoted\nRDEPENDS_${PN} = \"x\"\nsomething odd\ndo_install() {\n    true\n"
	wantFindings(t, lintOne(t, lintRecipe, "recipes-x/foo/foo_1.0.bb", bad, nil),
		"old override syntax", "unterminated value", "value not quoted", "not a bitbake statement",
		"function without a closing", "LIC_FILES_CHKSUM is not set")
}

func TestLayerConf(t *testing.T) {
	good := "BBPATH .= \":${LAYERDIR}\"\nBBFILES += \"${LAYERDIR}/recipes-*/*/*.bb\"\nBBFILE_COLLECTIONS += \"foo\"\nBBFILE_PATTERN_foo = \"^${LAYERDIR}/\"\nBBFILE_PRIORITY_foo = \"6\"\nLAYERDEPENDS_foo = \"core\"\nLAYERSERIES_COMPAT_foo = \"wrynose\"\n"
	wantFindings(t, lintOne(t, lintLayerConf, "conf/layer.conf", good, nil))
	bad := strings.Replace(good, "LAYERSERIES_COMPAT_foo", "LAYERSERIES_COMPAT_bar", 1)
	wantFindings(t, lintOne(t, lintLayerConf, "conf/layer.conf", bad, nil), "LAYERSERIES_COMPAT_foo is not set")
}

func TestOpenWrtMakefile(t *testing.T) {
	good := "include $(TOPDIR)/rules.mk\n\nPKG_NAME:=foo\nPKG_VERSION:=1\nPKG_RELEASE:=1\nPKG_LICENSE:=MIT\nPKG_LICENSE_FILES:=LICENSE\nPKG_MAINTAINER:=x\nPKG_BUILD_DEPENDS:=golang/host\nGO_PKG:=example.com/foo\n\ninclude $(INCLUDE_DIR)/package.mk\ninclude $(TOPDIR)/feeds/packages/lang/golang/golang-package.mk\n\ndefine Package/foo\n  TITLE:=foo\nendef\n\ndefine Package/foo/conffiles\n/etc/foo\nendef\n\ndefine Package/foo/install\n\t$(INSTALL_DIR) $(1)/etc/init.d\n\t$(INSTALL_BIN) ./files/foo.init $(1)/etc/init.d/foo\nendef\n\n$(eval $(call GoBinPackage,foo))\n$(eval $(call BuildPackage,foo))\n"
	wantFindings(t, lintOne(t, lintOpenWrtMakefile, "openwrt/foo/Makefile", good, nil))
	bad := strings.Replace(good, "$(eval $(call GoBinPackage,foo))\n", "", 1)
	bad = strings.Replace(bad, "PKG_LICENSE:=MIT\n", "", 1)
	bad = strings.Replace(bad, "define Package/foo/conffiles\n/etc/foo\nendef\n", "", 1)
	bad = strings.Replace(bad, "\t$(INSTALL_DIR)", "  $(INSTALL_DIR)", 1)
	wantFindings(t, lintOne(t, lintOpenWrtMakefile, "openwrt/foo/Makefile", bad, nil),
		"PKG_LICENSE is not set", "GoBinPackage,foo)) must come before", "without conffiles", "recipe line: indent with a tab")
}

func TestProcdInit(t *testing.T) {
	wantFindings(t, lintOne(t, lintProcdInit, "files/foo.init", "#!/bin/sh\nSTART=90\n", nil),
		"rc.common", "missing USE_PROCD=1", "missing procd_set_param respawn")
}

func TestCommon(t *testing.T) {
	wantFindings(t, lintOne(t, lintCommon, "x", "a \n\n\nb", nil),
		":1: trailing whitespace", ":3: consecutive empty lines", "no newline at the end")
}
