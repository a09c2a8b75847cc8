package ftp

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

func newFromFile(t *testing.T, file string) (*Connector, string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c, err := New(b, connector.Env{Name: "ftp", File: file, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c.(*Connector), logs.String()
}

// summary renders a plan for comparison.
func summary(p *plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%s tls=%v\n", p.srv.addr, p.srv.user, p.srv.password, p.srv.tls != nil)
	for _, pp := range p.paths {
		fmt.Fprintf(&b, "path %s partial=%v max=%d period=%v sorted=%v sliced=%v delim=%q attrs=%d ts=%d rowTS=%v\n",
			pp.pattern, pp.partial, pp.maxBytes, pp.period, pp.sorted, pp.rows.sliced, pp.rows.delim,
			len(pp.rows.attrs), len(pp.rows.ts), pp.rows.rowTS != nil)
		for _, c := range append(append([]column(nil), pp.rows.attrs...), pp.rows.ts...) {
			fmt.Fprintf(&b, "  %s=%s %v\n", c.key.describe(), c.val.describe(), c.typ)
		}
	}
	for _, u := range p.attrUpdates {
		fmt.Fprintf(&b, "update %s %s append=%v %s\n", u.path, u.devices, u.append, u.value)
	}
	for _, r := range p.rpcs {
		fmt.Fprintf(&b, "rpc %s %s %s\n", r.devices, r.methods, r.value)
	}
	return b.String()
}

// The upstream sample loads unchanged, without warnings.
func TestUpstreamSample(t *testing.T) {
	c, logs := newFromFile(t, "testdata/ftp.json")
	if logs != "" {
		t.Errorf("warnings: %s", logs)
	}
	got := summary(c.plan)
	for _, want := range []string{
		"0.0.0.0:21 admin/admin tls=false",
		"path fol/*_hello*.txt partial=false max=5242880 period=8m20s sorted=true sliced=true",
		"update fol/hello.json .* append=true {'${attributeKey}':'${attributeValue}'}",
		"rpc .* read ${params}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
}

// Upstream's backward-compatibility cases: the old flat file and the
// converted one compile to the same plan.
func TestOldFormat(t *testing.T) {
	for _, name := range []string{"anonym_type", "attribute_updates", "basic_type"} {
		t.Run(name, func(t *testing.T) {
			old, logs := newFromFile(t, "testdata/old_"+name+".json")
			if logs != "" {
				t.Errorf("old: warnings: %s", logs)
			}
			cur, logs := newFromFile(t, "testdata/new_"+name+".json")
			if logs != "" {
				t.Errorf("new: warnings: %s", logs)
			}
			if a, b := summary(old.plan), summary(cur.plan); a != b {
				t.Errorf("old and new differ:\n%s\n---\n%s", a, b)
			}
		})
	}
}

func TestBadConfigs(t *testing.T) {
	base := `{"host":"127.0.0.1","paths":[{"devicePatternName":"d","path":"a/*.csv","timeseries":[{"key":"t","value":"${t}"}]%s}]%s}`
	cases := map[string][2]string{
		"readMode":    {`,"readMode":"SOME"`, ``},
		"view":        {`,"txtFileDataView":"x"`, ``},
		"maxFileSize": {`,"maxFileSize":-1`, ``},
		"pollPeriod":  {`,"pollPeriod":0`, ``},
		"converter":   {`,"converter":{"type":"bytes","extension":"X"}`, ``},
		"port":        {``, `,"port":70000`},
		"security":    {``, `,"security":{"type":"token"}`},
		"filter":      {``, `,"attributeUpdates":[{"path":"x.txt","deviceNameFilter":"(","valueExpression":"v"}]`},
		"writingMode": {``, `,"attributeUpdates":[{"path":"x.txt","writingMode":"APPEND"}]`},
		"no host":     {``, `,"host":""`},
	}
	for name, c := range cases {
		src := fmt.Sprintf(base, c[0], c[1])
		_, err := New([]byte(src), connector.Env{Name: "f"})
		if err == nil {
			t.Errorf("%s: accepted %s", name, src)
			continue
		}
		if !strings.Contains(err.Error(), "f.json:1:") {
			t.Errorf("%s: error without position: %v", name, err)
		}
	}
	for name, src := range map[string]string{
		"no path":  `{"host":"h","paths":[{"devicePatternName":"d","timeseries":[{"key":"t","value":"v"}]}]}`,
		"bad ext":  `{"host":"h","paths":[{"devicePatternName":"d","path":"a/b.xml","timeseries":[{"key":"t","value":"v"}]}]}`,
		"no items": `{"host":"h","paths":[{"devicePatternName":"d","path":"a/b.csv"}]}`,
		"no name":  `{"host":"h","paths":[{"path":"a/b.csv","timeseries":[{"key":"t","value":"v"}]}]}`,
		"syntax":   `{"host":"h",}`,
		"type":     `{"host":5}`,
	} {
		if _, err := New([]byte(src), connector.Env{Name: "f"}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Implicit FTPS defaults to port 990; an explicit port still wins.
func TestImplicitTLSPort(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"host":"h","TLSSupport":true,"tls":{"implicit":true}}`:             "h:990",
		`{"host":"h","TLSSupport":true,"tls":{"implicit":true},"port":2990}`: "h:2990",
		`{"host":"h","TLSSupport":true}`:                                     "h:21",
	} {
		c, err := New([]byte(cfg), connector.Env{Name: "f"})
		if err != nil {
			t.Fatalf("%s: %v", cfg, err)
		}
		p := c.(*Connector).plan
		if p.srv.addr != want || p.srv.implicit != strings.Contains(cfg, "implicit") {
			t.Errorf("%s: addr %s implicit %v", cfg, p.srv.addr, p.srv.implicit)
		}
	}
}
