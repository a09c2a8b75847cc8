package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/codec/fieldconv"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/httpout"
)

// fieldsConverter is the custom converter named in upstream's sample; tbgw
// implements its byte layout (package fieldconv).
const fieldsConverter = "CustomRestUplinkConverter"

type plan struct {
	addr     string
	host     string
	tls      bool
	certFile string
	keyFile  string
	caFile   string

	routes []*route
	attrs  []*httpout.Call
	rpcs   []*httpout.Call
	opts   httpout.Options

	maxBody      int64
	maxConc      int
	maxConns     int
	readTimeout  time.Duration
	writeTimeout time.Duration
}

// route is one endpoint: a data endpoint of "mapping" or an attribute
// request endpoint.
type route struct {
	path    string
	pattern string
	params  []string
	methods map[string]bool
	user    string
	pass    string
	basic   bool

	conv        codec.Uplink
	raw         bool
	expect      bool
	respAttr    string
	respTimeout time.Duration
	okBody      []byte
	failBody    []byte

	attrReq   bool
	client    bool
	devName   *tmpl.Template
	attrNames []*tmpl.Template
	timeout   time.Duration
}

var pathParam = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{([^{}]*)\}`) })

func compile(doc *conf.Doc, cfg *fileConfig, configDir string, warn func(string)) (*plan, error) {
	p := &plan{maxBody: 1 << 20, maxConc: 64, maxConns: 256, readTimeout: 30 * time.Second}
	srv := cfg.Server
	srvPath := "server"
	if srv == nil {
		srv = &serverConf{Host: cfg.Host, Port: cfg.Port, Security: cfg.Security}
		if cfg.SSL != nil {
			srv.SSL = *cfg.SSL
		}
		srvPath = ""
	}
	key := func(k string) string {
		if srvPath == "" {
			return k
		}
		return srvPath + "." + k
	}
	p.host = srv.Host
	if p.host == "" {
		p.host = "0.0.0.0"
	}
	pt := 5000
	if srv.Port != nil {
		pt = int(*srv.Port)
	}
	if pt < 0 {
		return nil, doc.Errorf(key("port"), "want a port number 0 to 65535")
	}
	p.addr = net.JoinHostPort(p.host, strconv.Itoa(pt))
	abs := func(f string) string {
		if strings.HasPrefix(f, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				f = filepath.Join(home, f[2:])
			}
		}
		if f == "" || filepath.IsAbs(f) || configDir == "" {
			return f
		}
		return filepath.Join(configDir, f)
	}
	if srv.SSL {
		p.tls = true
		if s := srv.Security; s != nil {
			p.certFile, p.keyFile, p.caFile = abs(s.Cert), abs(s.Key), abs(s.CACert)
			if (p.certFile == "") != (p.keyFile == "") {
				return nil, doc.Errorf(key("security"), "cert and key go together")
			}
		}
	}
	if cfg.MaxBodySize < 0 || cfg.MaxConcurrent < 0 || cfg.MaxConnections < 0 {
		return nil, doc.Errorf("maxBodySize", "limits must not be negative")
	}
	if cfg.MaxBodySize > 0 {
		p.maxBody = cfg.MaxBodySize
	}
	if cfg.MaxConcurrent > 0 {
		p.maxConc = cfg.MaxConcurrent
	}
	if cfg.MaxConnections > 0 {
		p.maxConns = cfg.MaxConnections
	}
	if !cfg.ReadTimeout.Valid() {
		return nil, doc.Errorf("readTimeout", "want a number of seconds")
	}
	if cfg.ReadTimeout != nil && *cfg.ReadTimeout > 0 {
		p.readTimeout = time.Duration(float64(*cfg.ReadTimeout) * float64(time.Second))
	}
	p.writeTimeout = 30 * time.Second

	rm := cfg.RequestsMapping
	rm.AttributeRequests = append(rm.AttributeRequests, cfg.AttributeRequests...)
	rm.AttributeUpdates = append(rm.AttributeUpdates, cfg.AttributeUpdates...)
	rm.ServerSideRPC = append(rm.ServerSideRPC, cfg.ServerSideRPC...)

	mux := http.NewServeMux()
	seen := map[string]string{}
	for i := range cfg.Mapping {
		path := fmt.Sprintf("mapping[%d]", i)
		r, err := compileMapping(doc, path, &cfg.Mapping[i])
		if err != nil {
			return nil, err
		}
		if err := addRoute(doc, mux, seen, path, r); err != nil {
			return nil, err
		}
		if r.respTimeout+10*time.Second > p.writeTimeout {
			p.writeTimeout = r.respTimeout + 10*time.Second
		}
		p.routes = append(p.routes, r)
	}
	for i := range rm.AttributeRequests {
		path := fmt.Sprintf("requestsMapping.attributeRequests[%d]", i)
		r, err := compileAttrRequest(doc, path, &rm.AttributeRequests[i])
		if err != nil {
			return nil, err
		}
		if err := addRoute(doc, mux, seen, path, r); err != nil {
			return nil, err
		}
		if r.timeout+10*time.Second > p.writeTimeout {
			p.writeTimeout = r.timeout + 10*time.Second
		}
		p.routes = append(p.routes, r)
	}
	p.opts = httpout.Options{Verify: true, ConfigDir: configDir, Method: "POST", Converter: "rest-downlink"}
	var raw struct {
		RequestsMapping struct {
			AttributeUpdates []json.RawMessage `json:"attributeUpdates"`
			ServerSideRPC    []json.RawMessage `json:"serverSideRpc"`
		} `json:"requestsMapping"`
		AttributeUpdates []json.RawMessage `json:"attributeUpdates"`
		ServerSideRPC    []json.RawMessage `json:"serverSideRpc"`
	}
	if err := json.Unmarshal(doc.Raw(), &raw); err == nil {
		// The entries as written, for a converter class (in rm's order).
		httpout.AttachRaw(rm.AttributeUpdates, append(raw.RequestsMapping.AttributeUpdates, raw.AttributeUpdates...))
		httpout.AttachRaw(rm.ServerSideRPC, append(raw.RequestsMapping.ServerSideRPC, raw.ServerSideRPC...))
	}
	for i := range rm.AttributeUpdates {
		path := fmt.Sprintf("requestsMapping.attributeUpdates[%d]", i)
		c, err := httpout.Compile(&rm.AttributeUpdates[i], "attributeFilter", withWarn(p.opts, doc, path, warn))
		if err != nil {
			return nil, outErr(doc, path, err)
		}
		p.attrs = append(p.attrs, c)
	}
	for i := range rm.ServerSideRPC {
		path := fmt.Sprintf("requestsMapping.serverSideRpc[%d]", i)
		c, err := httpout.Compile(&rm.ServerSideRPC[i], "methodFilter", withWarn(p.opts, doc, path, warn))
		if err != nil {
			return nil, outErr(doc, path, err)
		}
		p.rpcs = append(p.rpcs, c)
	}
	if len(p.routes) == 0 && len(p.attrs) == 0 && len(p.rpcs) == 0 {
		return nil, doc.Errorf("mapping", "nothing to do: no mapping, attribute requests, attribute updates or RPCs")
	}
	return p, nil
}

func outErr(doc *conf.Doc, path string, err error) error {
	if e, ok := err.(*httpout.Error); ok {
		return doc.Errorf(path+"."+e.Key, "%s", e.Msg)
	}
	return doc.Errorf(path, "%v", err)
}

// addRoute checks r's path and methods and registers its pattern in mux
// to find conflicts at load time.
func addRoute(doc *conf.Doc, mux *http.ServeMux, seen map[string]string, path string, r *route) (err error) {
	if !strings.HasPrefix(r.path, "/") {
		return doc.Errorf(path+".endpoint", "must start with /")
	}
	for _, m := range pathParam().FindAllStringSubmatch(r.path, -1) {
		name := m[1]
		if strings.Contains(name, ":") {
			return doc.Errorf(path+".endpoint", "path parameter {%s}: regular expressions in parameters are not supported", name)
		}
		if name == "" || strings.ContainsAny(name, "/.") {
			return doc.Errorf(path+".endpoint", "bad path parameter {%s}", name)
		}
		r.params = append(r.params, name)
	}
	r.pattern = r.path
	if strings.HasSuffix(r.pattern, "/") {
		r.pattern += "{$}"
	}
	if prev, dup := seen[r.pattern]; dup {
		return doc.Errorf(path+".endpoint", "endpoint %s is also %s", r.path, prev)
	}
	seen[r.pattern] = path
	defer func() {
		if x := recover(); x != nil {
			err = doc.Errorf(path+".endpoint", "%v", x)
		}
	}()
	mux.Handle(r.pattern, http.NotFoundHandler())
	return nil
}

func compileMethods(doc *conf.Doc, path string, ms []string, r *route) error {
	if len(ms) == 0 {
		return doc.Errorf(path+".HTTPMethods", "at least one method is required")
	}
	r.methods = map[string]bool{}
	for _, m := range ms {
		m = strings.ToUpper(strings.TrimSpace(m))
		switch m {
		case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
		default:
			return doc.Errorf(path+".HTTPMethods", "unknown method %q", m)
		}
		r.methods[m] = true
	}
	return nil
}

func compileAuth(doc *conf.Doc, path string, a *authConf, r *route) error {
	if a == nil {
		return nil
	}
	switch strings.ToLower(a.Type) {
	case "", "anonymous":
	case "basic":
		if a.Username == "" {
			return doc.Errorf(path+".security.username", "required for basic authentication")
		}
		r.basic, r.user, r.pass = true, a.Username, a.Password
	default:
		return doc.Errorf(path+".security.type", "unknown type %q (want anonymous or basic)", a.Type)
	}
	return nil
}

func responseBody(doc *conf.Doc, path string, raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, doc.Errorf(path, "%v", err)
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, doc.Errorf(path, "%v", err)
	}
	return buf.Bytes(), nil
}

func compileMapping(doc *conf.Doc, path string, m *endpointConf) (*route, error) {
	r := &route{path: m.Endpoint, respTimeout: 120 * time.Second}
	if m.Endpoint == "" {
		return nil, doc.Errorf(path+".endpoint", "required")
	}
	if err := compileMethods(doc, path, m.HTTPMethods, r); err != nil {
		return nil, err
	}
	if err := compileAuth(doc, path, m.Security, r); err != nil {
		return nil, err
	}
	if rc := m.Response; rc != nil {
		var err error
		if r.okBody, err = responseBody(doc, path+".response.successResponse", rc.SuccessResponse); err != nil {
			return nil, err
		}
		if r.failBody, err = responseBody(doc, path+".response.unsuccessfulResponse", rc.UnsuccessfulResponse); err != nil {
			return nil, err
		}
		if rc.Timeout != nil {
			if !rc.Timeout.Valid() || *rc.Timeout <= 0 || *rc.Timeout > 3600 {
				return nil, doc.Errorf(path+".response.timeout", "want more than 0 and at most 3600 seconds")
			}
			r.respTimeout = time.Duration(float64(*rc.Timeout) * float64(time.Second))
		}
		if rc.ResponseExpected {
			if rc.ResponseAttribute == "" {
				return nil, doc.Errorf(path+".response.responseAttribute", "required with responseExpected: the shared attribute whose value answers the request")
			}
			r.expect, r.respAttr = true, rc.ResponseAttribute
		}
	}
	report, err := m.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	cc := &m.Converter
	if strings.EqualFold(cc.Type, "custom") && cc.Extension == fieldsConverter {
		if r.conv, err = newFields(cc, report); err != nil {
			return nil, doc.Errorf(path+".converter", "%v", err)
		}
		r.raw = true
		return r, nil
	}
	if r.conv, err = convert.New(cc, convert.Options{Report: report}); err != nil {
		if ce, ok := err.(*convert.Error); ok {
			return nil, doc.Errorf(path+".converter."+ce.Path, "%s", ce.Msg)
		}
		return nil, doc.Errorf(path+".converter", "%v", err)
	}
	r.raw = strings.EqualFold(cc.Type, "custom") || strings.EqualFold(cc.Type, "bytes")
	return r, nil
}

func compileAttrRequest(doc *conf.Doc, path string, a *attrRequestConf) (*route, error) {
	r := &route{path: a.Endpoint, attrReq: true, timeout: 10 * time.Second}
	if a.Endpoint == "" {
		return nil, doc.Errorf(path+".endpoint", "required")
	}
	if err := compileMethods(doc, path, a.HTTPMethods, r); err != nil {
		return nil, err
	}
	if err := compileAuth(doc, path, a.Security, r); err != nil {
		return nil, err
	}
	switch strings.ToLower(a.Type) {
	case "", "shared":
	case "client":
		r.client = true
	default:
		return nil, doc.Errorf(path+".type", "want shared or client, got %q", a.Type)
	}
	if a.Timeout != nil {
		if !a.Timeout.Valid() || *a.Timeout <= 0 || *a.Timeout > 3600 {
			return nil, doc.Errorf(path+".timeout", "want more than 0 and at most 3600 seconds")
		}
		r.timeout = time.Duration(float64(*a.Timeout) * float64(time.Second))
	}
	var err error
	if a.DeviceNameExpression == "" {
		return nil, doc.Errorf(path+".deviceNameExpression", "required")
	}
	if r.devName, err = tmpl.Compile(a.DeviceNameExpression); err != nil {
		return nil, doc.Errorf(path+".deviceNameExpression", "%v", err)
	}
	t, err := tmpl.Compile(a.AttributeNameExpression)
	if err != nil || t.NumVars() == 0 {
		if err == nil {
			err = fmt.Errorf("want ${...} placeholders naming the request's fields that hold attribute names")
		}
		return nil, doc.Errorf(path+".attributeNameExpression", "%v", err)
	}
	for _, v := range t.Vars() {
		one, err := tmpl.Compile("${" + v + "}")
		if err != nil {
			return nil, doc.Errorf(path+".attributeNameExpression", "%v", err)
		}
		r.attrNames = append(r.attrNames, one)
	}
	return r, nil
}

// newFields builds the byte-layout converter of a custom converter block.
func newFields(cc *convert.Config, report *codec.Strategy) (codec.Uplink, error) {
	name, typ := cc.DeviceNameExpression, cc.DeviceTypeExpression
	if cc.DeviceInfo != nil {
		name, typ = cc.DeviceInfo.DeviceNameExpression, cc.DeviceInfo.DeviceProfileExpression
	}
	ext := cc.ExtensionConfig
	if len(ext) == 0 {
		ext = cc.LegacyExtensionConfig
	}
	entries, err := fieldconv.Parse(ext)
	if err != nil {
		return nil, fmt.Errorf("extensionConfig: %v", err)
	}
	return fieldconv.New(name, typ, entries, report)
}

// withWarn makes o report an entry's unavailable converter class as a
// warning at path.
func withWarn(o httpout.Options, doc *conf.Doc, path string, warn func(string)) httpout.Options {
	o.Warn = func(key, msg string) { warn(doc.Errorf(path+"."+key, "%s", msg).Error()) }
	return o
}
