package ftp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/value"
)

// plan is the validated configuration.
type plan struct {
	srv         server
	paths       []*pathPlan
	attrUpdates []*attrUpdate
	rpcs        []*rpcRule
}

// pathPlan is one entry of "paths".
type pathPlan struct {
	pattern  string
	partial  bool
	maxBytes int64
	period   time.Duration
	sorted   bool
	rows     *rowSpec      // CSV and TXT files
	json     *convert.JSON // JSON files
	conv     *customConv   // a custom converter instead of rows and json
}

type attrUpdate struct {
	path    string // template: ${attributeKey}, ${attributeValue}
	devices *pyre.Regex
	append  bool // WRITE appends a line, OVERRIDE replaces the file
	value   string
}

type rpcRule struct {
	devices *pyre.Regex
	methods *pyre.Regex
	value   string
}

// fileKinds are the extensions the connector reads.
var fileKinds = map[string]bool{"csv": true, "txt": true, "json": true}

func fileKind(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if fileKinds[ext] {
		return ext
	}
	return ""
}

func compile(doc *conf.Doc, cfg *fileConfig, env envInfo) (*plan, error) {
	p := &plan{}
	params, pre := &cfg.parameters, ""
	if cfg.Parameters != nil {
		params, pre = cfg.Parameters, "parameters."
	}
	if strings.TrimSpace(params.Host) == "" {
		return nil, doc.Errorf(pre+"host", "is required")
	}
	port := 21
	if params.TLSSupport && params.TLS != nil && params.TLS.Implicit {
		port = 990
	}
	if params.Port != nil {
		port = *params.Port
		if port <= 0 || port > 65535 {
			return nil, doc.Errorf(pre+"port", "must be 1..65535, got %d", port)
		}
	}
	p.srv.addr = net.JoinHostPort(strings.TrimSpace(params.Host), strconv.Itoa(port))
	p.srv.timeout = 10 * time.Second
	if params.Timeout != nil {
		if *params.Timeout <= 0 || *params.Timeout > 3600 {
			return nil, doc.Errorf(pre+"timeout", "must be in (0, 3600] seconds")
		}
		p.srv.timeout = time.Duration(*params.Timeout * float64(time.Second))
	}
	p.srv.user, p.srv.password = "anonymous", "anonymous@"
	if sec := params.Security; sec != nil {
		switch strings.ToLower(sec.Type) {
		case "basic":
			if sec.Username == "" {
				return nil, doc.Errorf(pre+"security.username", "is required with type basic")
			}
			p.srv.user, p.srv.password = sec.Username, sec.Password
		case "anonymous", "":
		default:
			return nil, doc.Errorf(pre+"security.type", "must be basic or anonymous, got %q", sec.Type)
		}
	}
	if params.TLSSupport {
		tc, err := tlsClient(params.TLS, params.Host, env.configDir)
		if err != nil {
			return nil, doc.Errorf(pre+"tls", "%v", err)
		}
		p.srv.tls = tc
		p.srv.implicit = params.TLS != nil && params.TLS.Implicit
	} else if params.TLS != nil {
		env.warn(fmt.Errorf("%s: %stls is ignored without TLSSupport", doc.Pos(pre+"tls"), pre))
	}

	for i := range cfg.Paths {
		pp, err := compilePath(doc, fmt.Sprintf("paths[%d]", i), &cfg.Paths[i], env.warn)
		if err != nil {
			return nil, err
		}
		p.paths = append(p.paths, pp)
	}

	ups, ups0, rpcs, rpcs0 := cfg.AttributeUpdates, "attributeUpdates", cfg.ServerSideRPC, "serverSideRpc"
	if rm := cfg.RequestsMapping; rm != nil {
		if len(rm.AttributeUpdates) > 0 {
			ups, ups0 = rm.AttributeUpdates, "requestsMapping.attributeUpdates"
		}
		if len(rm.ServerSideRPC) > 0 {
			rpcs, rpcs0 = rm.ServerSideRPC, "requestsMapping.serverSideRpc"
		}
	}
	for i, u := range ups {
		at := fmt.Sprintf("%s[%d]", ups0, i)
		if strings.TrimSpace(u.Path) == "" {
			return nil, doc.Errorf(at+".path", "is required")
		}
		re, err := compileFilter(u.DeviceNameFilter)
		if err != nil {
			return nil, doc.Errorf(at+".deviceNameFilter", "%v", err)
		}
		a := &attrUpdate{path: u.Path, devices: re, value: u.ValueExpression}
		switch strings.ToUpper(u.WritingMode) {
		case "", "WRITE":
			a.append = true
		case "OVERRIDE":
		default:
			return nil, doc.Errorf(at+".writingMode", "must be WRITE or OVERRIDE, got %q", u.WritingMode)
		}
		if a.value == "" {
			a.value = "${attributeValue}"
		}
		p.attrUpdates = append(p.attrUpdates, a)
	}
	for i, r := range rpcs {
		at := fmt.Sprintf("%s[%d]", rpcs0, i)
		dre, err := compileFilter(r.DeviceNameFilter)
		if err != nil {
			return nil, doc.Errorf(at+".deviceNameFilter", "%v", err)
		}
		mre, err := compileFilter(r.MethodFilter)
		if err != nil {
			return nil, doc.Errorf(at+".methodFilter", "%v", err)
		}
		p.rpcs = append(p.rpcs, &rpcRule{devices: dre, methods: mre, value: r.ValueExpression})
	}
	return p, nil
}

func compileFilter(s string) (*pyre.Regex, error) {
	if s == "" {
		s = ".*"
	}
	return pyre.Compile(s)
}

func compilePath(doc *conf.Doc, at string, pc *pathConfig, warn func(error)) (*pathPlan, error) {
	pp := &pathPlan{pattern: strings.TrimSpace(pc.Path), sorted: true, period: 60 * time.Second, maxBytes: 5 << 20}
	if pp.pattern == "" {
		return nil, doc.Errorf(at+".path", "is required")
	}
	for _, seg := range strings.Split(pp.pattern, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return nil, doc.Errorf(at+".path", "bad pattern %q: %v", seg, err)
		}
	}
	base := path.Base(pp.pattern)
	if !hasMeta(path.Ext(base)) && fileKind(base) == "" {
		return nil, doc.Errorf(at+".path", "files must end in .csv, .txt or .json, got %q", base)
	}
	switch strings.ToUpper(pc.ReadMode) {
	case "", "FULL":
	case "PARTIAL":
		pp.partial = true
	default:
		return nil, doc.Errorf(at+".readMode", "must be FULL or PARTIAL, got %q", pc.ReadMode)
	}
	if pc.MaxFileSize != nil {
		if *pc.MaxFileSize <= 0 || *pc.MaxFileSize > 4096 {
			return nil, doc.Errorf(at+".maxFileSize", "must be in (0, 4096] MB")
		}
		pp.maxBytes = int64(*pc.MaxFileSize * (1 << 20))
	}
	if pc.PollPeriod != nil {
		if *pc.PollPeriod <= 0 || *pc.PollPeriod > 366*86400 {
			return nil, doc.Errorf(at+".pollPeriod", "must be a positive number of seconds")
		}
		pp.period = time.Duration(*pc.PollPeriod * float64(time.Second))
		if pp.period < 100*time.Millisecond {
			pp.period = 100 * time.Millisecond
		}
	}
	if pc.WithSortingFiles != nil {
		pp.sorted = *pc.WithSortingFiles
	} else if pc.WithSortingFiles2 != nil {
		pp.sorted = *pc.WithSortingFiles2
	}
	var report *codec.Strategy
	if pc.ReportStrategy != nil {
		var err error
		if report, err = pc.ReportStrategy.Strategy(); err != nil {
			return nil, doc.Errorf(at+".reportStrategy", "%v", err)
		}
	}

	// Rows of CSV and TXT files.
	rs := &rowSpec{delim: ","}
	switch strings.ToUpper(pc.TxtFileDataView) {
	case "", "TABLE":
	case "SLICED":
		rs.sliced = true
	default:
		return nil, doc.Errorf(at+".txtFileDataView", "must be TABLE or SLICED, got %q", pc.TxtFileDataView)
	}
	if pc.Delimiter != nil {
		rs.delim = *pc.Delimiter
	}
	if len(pc.Converter) > 0 && string(pc.Converter) != "null" {
		conv, err := compileConverter(pc, rs)
		switch {
		case err == nil:
			pp.rows, pp.conv = rs, conv
			return pp, nil
		case errors.Is(err, codec.ErrNoResolver) && len(pc.Attributes)+len(pc.Timeseries) > 0 && warn != nil:
			// No Python here (e.g. `tbgw check` on a build machine): the
			// path's own datapoints are used instead.
			warn(doc.Errorf(at+".converter", "%v; the path's datapoints are used instead", err))
		default:
			return nil, doc.Errorf(at+".converter", "%v", err)
		}
	}
	if strings.TrimSpace(pc.DevicePatternName) == "" {
		return nil, doc.Errorf(at+".devicePatternName", "is required")
	}
	devType := "Device"
	if pc.DevicePatternType != nil {
		devType = *pc.DevicePatternType
	}
	var err error
	if rs.name, err = compileCell(pc.DevicePatternName, rs.sliced); err != nil {
		return nil, doc.Errorf(at+".devicePatternName", "%v", err)
	}
	if rs.typ, err = compileCell(devType, rs.sliced); err != nil {
		return nil, doc.Errorf(at+".devicePatternType", "%v", err)
	}
	cols := func(list []datapointConfig, key string, ts bool) ([]column, error) {
		var out []column
		for i, dp := range list {
			at := fmt.Sprintf("%s.%s[%d]", at, key, i)
			c := column{typ: value.ParseType(dp.Type), report: report}
			if dp.Type == "" {
				c.typ = value.String // values are text; upstream's adapter says so
			}
			if c.key, err = compileCell(dp.Key, rs.sliced); err != nil {
				return nil, doc.Errorf(at+".key", "%v", err)
			}
			if c.val, err = compileCell(dp.Value, rs.sliced); err != nil {
				return nil, doc.Errorf(at+".value", "%v", err)
			}
			if dp.Key == "" {
				return nil, doc.Errorf(at+".key", "is required")
			}
			if dp.ReportStrategy != nil {
				s, err := dp.ReportStrategy.Strategy()
				if err != nil {
					return nil, doc.Errorf(at+".reportStrategy", "%v", err)
				}
				if s != nil {
					c.report = s
				}
			}
			if ts && (dp.Key == "ts" || dp.Key == "timestamp") {
				v := c.val
				rs.rowTS = &v
				rs.tsOpt.DayFirst, rs.tsOpt.YearFirst = dp.DayFirst, dp.YearFirst
				continue
			}
			if dp.TSField != "" {
				f := dp.TSField
				if !rs.sliced && !strings.Contains(f, "${") {
					f = "${" + f + "}"
				}
				tc, err := compileCell(f, rs.sliced)
				if err != nil {
					return nil, doc.Errorf(at+".tsField", "%v", err)
				}
				c.tsField = &tc
				c.tsOpt.DayFirst, c.tsOpt.YearFirst = dp.DayFirst, dp.YearFirst
			}
			out = append(out, c)
		}
		return out, nil
	}
	if rs.attrs, err = cols(pc.Attributes, "attributes", false); err != nil {
		return nil, err
	}
	if rs.ts, err = cols(pc.Timeseries, "timeseries", true); err != nil {
		return nil, err
	}
	if len(rs.attrs) == 0 && len(rs.ts) == 0 {
		return nil, doc.Errorf(at, "has neither attributes nor timeseries")
	}
	pp.rows = rs

	// JSON files: the JSON converter with the same datapoints.
	jc := &convert.Config{
		Type:                     "json",
		DeviceNameJSONExpression: pc.DevicePatternName,
		DeviceTypeJSONExpression: devType,
		Attributes:               convert.Datapoints{List: pc.Attributes},
		Timeseries:               convert.Datapoints{List: pc.Timeseries},
	}
	if pp.json, err = convert.NewJSON(jc, convert.Options{Report: report}); err != nil {
		// SLICED expressions are not JSON templates; such a path reads
		// no JSON files.
		pp.json = nil
		if base := path.Base(pp.pattern); fileKind(base) == "json" {
			return nil, doc.Errorf(at, "%v", err)
		}
	}
	return pp, nil
}

// tlsClient builds the FTPS client configuration: verified against the
// system roots or caFile unless insecureSkipVerify.
func tlsClient(tc *tlsConfig, host, dir string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	if tc == nil {
		return c, nil
	}
	if tc.ServerName != "" {
		c.ServerName = tc.ServerName
	}
	c.InsecureSkipVerify = tc.InsecureSkipVerify
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	if tc.CAFile != "" {
		pem, err := os.ReadFile(abs(tc.CAFile))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate", tc.CAFile)
		}
		c.RootCAs = pool
	}
	if tc.CertFile != "" || tc.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(abs(tc.CertFile), abs(tc.KeyFile))
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
