package request

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/codec/fieldconv"
	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/httpout"
)

// fieldsConverter is the custom converter named in upstream's sample; tbgw
// implements its byte layout (package fieldconv).
const fieldsConverter = "CustomRequestUplinkConverter"

type plan struct {
	endpoints []*endpoint
	attrs     []*httpout.Call
	rpcs      []*httpout.Call
	opts      httpout.Options
	workers   int
}

// endpoint is one compiled "mapping" entry.
type endpoint struct {
	url    string
	body   string
	call   *httpout.Call
	period time.Duration
	unpack *jpath.Path
	subs   []*subReq
	conv   codec.Uplink
	raw    bool // the converter reads the body as bytes
}

func compile(doc *conf.Doc, cfg *fileConfig, configDir string, warn func(string)) (*plan, error) {
	p := &plan{workers: 8}
	if cfg.Workers < 0 || cfg.Workers > 256 {
		return nil, doc.Errorf("workers", "want 1 to 256")
	}
	if cfg.Workers > 0 {
		p.workers = cfg.Workers
	}
	if cfg.MaxResponseSize < 0 {
		return nil, doc.Errorf("maxResponseSize", "must not be negative")
	}
	host := strings.TrimSpace(cfg.Host)
	if host == "" {
		return nil, doc.Errorf("host", "required")
	}
	low := strings.ToLower(host)
	if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
		host = "http://" + host
	}
	verify := cfg.SSLVerify == nil || *cfg.SSLVerify
	p.opts = httpout.Options{Base: host, Verify: verify, Auth: cfg.Security, MaxResponse: cfg.MaxResponseSize, ConfigDir: configDir,
		Transports: &httpout.Transports{MaxIdlePerHost: p.workers}}
	var raw struct {
		AttributeUpdates []json.RawMessage `json:"attributeUpdates"`
		ServerSideRPC    []json.RawMessage `json:"serverSideRpc"`
	}
	if err := json.Unmarshal(doc.Raw(), &raw); err == nil {
		// The entries as written, for a converter class.
		httpout.AttachRaw(cfg.AttributeUpdates, raw.AttributeUpdates)
		httpout.AttachRaw(cfg.ServerSideRPC, raw.ServerSideRPC)
	}
	if len(cfg.Mapping) == 0 && len(cfg.AttributeUpdates) == 0 && len(cfg.ServerSideRPC) == 0 {
		return nil, doc.Errorf("mapping", "nothing to do: no mapping, attributeUpdates or serverSideRpc")
	}
	for i := range cfg.Mapping {
		e, err := compileEndpoint(doc, fmt.Sprintf("mapping[%d]", i), &cfg.Mapping[i], p.opts)
		if err != nil {
			return nil, err
		}
		p.endpoints = append(p.endpoints, e)
	}
	for i := range cfg.AttributeUpdates {
		opts := p.opts
		opts.Method = "POST"
		opts.Converter = "request-downlink"
		path := fmt.Sprintf("attributeUpdates[%d]", i)
		c, err := httpout.Compile(&cfg.AttributeUpdates[i], "attributeFilter", withWarn(opts, doc, path, warn))
		if err != nil {
			return nil, outErr(doc, path, err)
		}
		p.attrs = append(p.attrs, c)
	}
	for i := range cfg.ServerSideRPC {
		opts := p.opts
		opts.Converter = "request-downlink"
		path := fmt.Sprintf("serverSideRpc[%d]", i)
		c, err := httpout.Compile(&cfg.ServerSideRPC[i], "methodFilter", withWarn(opts, doc, path, warn))
		if err != nil {
			return nil, outErr(doc, path, err)
		}
		p.rpcs = append(p.rpcs, c)
	}
	return p, nil
}

func outErr(doc *conf.Doc, path string, err error) error {
	if e, ok := err.(*httpout.Error); ok {
		return doc.Errorf(path+"."+e.Key, "%s", e.Msg)
	}
	return doc.Errorf(path, "%v", err)
}

func compileEndpoint(doc *conf.Doc, path string, m *mapping, opts httpout.Options) (*endpoint, error) {
	if m.URL == "" {
		return nil, doc.Errorf(path+".url", "required")
	}
	timeout := httpout.Seconds(1)
	if m.Timeout != nil {
		timeout = *m.Timeout
	}
	if !timeout.Valid() || timeout <= 0 {
		return nil, doc.Errorf(path+".timeout", "must be more than 0 seconds")
	}
	spec := httpout.Spec{
		RequestURLExpression: m.URL,
		HTTPMethod:           m.HTTPMethod,
		HTTPHeaders:          m.HTTPHeaders,
		Timeout:              &timeout,
		AllowRedirects:       m.AllowRedirects,
	}
	call, err := httpout.Compile(&spec, "", opts)
	if err != nil {
		return nil, outErr(doc, path, err)
	}
	e := &endpoint{call: call, period: 10 * time.Second}
	if e.url, err = call.URL(&tmpl.Vars{}); err != nil {
		return nil, doc.Errorf(path+".url", "%v", err)
	}
	if m.ScanPeriod != nil {
		if !m.ScanPeriod.Valid() || *m.ScanPeriod < 0.01 {
			return nil, doc.Errorf(path+".scanPeriod", "must be at least 0.01 seconds")
		}
		e.period = time.Duration(float64(*m.ScanPeriod) * float64(time.Second))
	}
	if d := bytes.TrimSpace(m.Data); len(d) > 0 && string(d) != "null" {
		var s string
		if d[0] == '"' && json.Unmarshal(d, &s) == nil {
			e.body = s
		} else {
			var buf bytes.Buffer
			if err := json.Compact(&buf, d); err != nil {
				return nil, doc.Errorf(path+".data", "%v", err)
			}
			e.body = buf.String()
		}
	}
	if err := compileUnpack(e, m.DataUnpackExpression); err != nil {
		return nil, doc.Errorf(path+".dataUnpackExpression", "%v", err)
	}
	for _, key := range sortedKeys(m.SubRequests) {
		s, err := compileSubReq(key, m.SubRequests[key])
		if err != nil {
			return nil, doc.Errorf(path+".subRequests."+key, "%v", err)
		}
		e.subs = append(e.subs, s)
	}
	report, err := m.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	cc := &m.Converter
	if strings.EqualFold(cc.Type, "custom") && cc.Extension == fieldsConverter {
		e.conv, err = newFields(cc, report)
		if err != nil {
			return nil, doc.Errorf(path+".converter", "%v", err)
		}
		e.raw = true
		return e, nil
	}
	e.conv, err = convert.New(cc, convert.Options{Report: report, PartialNull: true})
	if err != nil {
		if ce, ok := err.(*convert.Error); ok {
			return nil, doc.Errorf(path+".converter."+ce.Path, "%s", ce.Msg)
		}
		return nil, doc.Errorf(path+".converter", "%v", err)
	}
	e.raw = strings.EqualFold(cc.Type, "custom") || strings.EqualFold(cc.Type, "bytes")
	return e, nil
}

// newFields builds the byte-layout converter of a custom converter block,
// the device named by its device name and type keys.
func newFields(cc *convert.Config, report *codec.Strategy) (codec.Uplink, error) {
	name := firstNonEmpty(cc.DeviceNameJSONExpression, cc.DeviceNameExpression)
	typ := firstNonEmpty(cc.DeviceTypeJSONExpression, cc.DeviceTypeExpression)
	if cc.DeviceInfo != nil {
		name = firstNonEmpty(cc.DeviceInfo.DeviceNameExpression, name)
		typ = firstNonEmpty(cc.DeviceInfo.DeviceProfileExpression, typ)
	}
	ext := cc.ExtensionConfig
	if len(ext) == 0 {
		ext = cc.LegacyExtensionConfig
	}
	entries, err := fieldconv.Parse(ext)
	if err != nil {
		return nil, fmt.Errorf("extension-config: %v", err)
	}
	return fieldconv.New(name, typ, entries, report)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compileUnpack sets e's dataUnpackExpression: a JSONPath, optionally
// written as ${path}.
func compileUnpack(e *endpoint, x string) error {
	x = strings.TrimSpace(x)
	if x == "" {
		return nil
	}
	if strings.HasPrefix(x, "${") && strings.HasSuffix(x, "}") {
		x = x[2 : len(x)-1]
	}
	var err error
	e.unpack, err = jpath.Compile(x)
	return err
}

// withWarn makes o report an entry's unavailable converter class as a
// warning at path.
func withWarn(o httpout.Options, doc *conf.Doc, path string, warn func(string)) httpout.Options {
	o.Warn = func(key, msg string) { warn(doc.Errorf(path+"."+key, "%s", msg).Error()) }
	return o
}
