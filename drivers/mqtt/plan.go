package mqtt

import (
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

// Defaults and bounds of the broker block.
const (
	defaultPort      = 1883
	defaultKeepAlive = 60 // s
	defaultVersion   = 5
	// Queue of received messages waiting for conversion, all workers
	// together (maxMessageQueue caps it further).
	defaultQueue = 1024
	maxQueue     = 1 << 16
	// Messages converted and stored with one Sink.Send.
	maxBatch = 256
	// Worker count is capped at the CPU count: conversion is CPU work and
	// storage batches concurrent writers.
	maxWorkersCap = 16
)

// plan is a validated configuration, compiled for the message path.
type plan struct {
	broker    brokerConf
	version   int
	port      int
	keepAlive time.Duration
	clean     bool
	workers   int
	queue     int
	// requestQueue bounds connect/disconnect/attribute requests waiting
	// to be served (maxProcessingMessageQueue).
	requestQueue int
	maps         []*dataMap
	connects     []*deviceRequest
	disconnects  []*deviceRequest
	attrReqs     []*attrRequest
	attrUpds     []*attrUpdate
	rpcs         []*rpcRoute
	// subs are the filters subscribed on every connect, deduplicated,
	// with the highest QoS asked for each.
	subs []subscription
}

type subscription struct {
	filter string
	qos    byte
}

// dataMap is one "mapping" entry.
type dataMap struct {
	filter *filter
	qos    byte
	conv   codec.Uplink
	// report is given to the converter for points that carry no strategy
	// of their own: the mapping's reportStrategy, else ON_CHANGE for
	// sendDataOnlyOnChange.
	report *codec.Strategy
	name   string // for logs: the topic filter
}

// nameExpr resolves a device name or profile (upstream deviceInfo) in
// connect, disconnect and attribute requests.
type nameExpr struct {
	src      string // "message", "topic", "constant"
	constant string
	tmpl     *tmpl.Template
	re       *pyre.Regex
}

type deviceRequest struct {
	filter  *filter
	qos     byte
	name    *nameExpr
	profile *nameExpr // nil: "default"
}

type attrRequest struct {
	deviceRequest
	keySrc   string // message, constant, topic
	keyTmpl  *tmpl.Template
	keyTmpls []*tmpl.Template // one per placeholder of keyTmpl
	keyRe    *pyre.Regex
	keyConst []string
	scope    string // "shared" or "client"
	topic    *tmpl.Template
	value    *tmpl.Template
	retain   bool
	qos      byte
}

type attrUpdate struct {
	device *pyre.Regex
	attr   *pyre.Regex
	topic  *tmpl.Template
	value  *tmpl.Template
	retain bool
	qos    byte
}

// rpcRoute is one serverSideRpc entry, or the params of a reserved
// get/set RPC or a connector RPC.
type rpcRoute struct {
	device    *pyre.Regex // nil for reserved and connector RPCs
	method    *pyre.Regex
	reqTopic  *tmpl.Template
	value     *tmpl.Template
	respTopic *tmpl.Template // nil: one-way
	respQoS   byte
	timeout   time.Duration // 0: one-way
	retain    bool
	qos       byte
}

// compile validates c and builds the plan. doc positions the errors.
func compile(c *config, doc *conf.Doc, env envLike) (*plan, error) {
	p := &plan{broker: c.Broker}
	b := &c.Broker
	if strings.TrimSpace(b.Host) == "" {
		return nil, doc.Errorf("broker.host", "required")
	}
	p.port = defaultPort
	if b.Port != nil {
		if *b.Port < 1 || *b.Port > 65535 {
			return nil, doc.Errorf("broker.port", "must be 1..65535")
		}
		p.port = *b.Port
	}
	p.version = defaultVersion
	if b.Version != nil {
		switch *b.Version {
		case 3, 4, 5:
			p.version = *b.Version
		default:
			return nil, doc.Errorf("broker.version", "must be 3 (MQTT 3.1), 4 (3.1.1) or 5, got %d", *b.Version)
		}
	}
	ka := defaultKeepAlive
	if b.KeepAlive != nil {
		if *b.KeepAlive < 0 || *b.KeepAlive > 65535 {
			return nil, doc.Errorf("broker.keepAlive", "must be 0..65535 seconds")
		}
		ka = *b.KeepAlive
	}
	p.keepAlive = time.Duration(ka) * time.Second
	p.clean = true
	if p.version == 5 {
		if b.CleanStart != nil {
			p.clean = *b.CleanStart
		}
	} else if b.CleanSession != nil {
		p.clean = *b.CleanSession
	}
	if b.SessionExpiryInterval < 0 || b.SessionExpiryInterval > 0xFFFFFFFF {
		return nil, doc.Errorf("broker.sessionExpiryInterval", "must be 0..4294967295 seconds")
	}
	if p.version == 3 && len(b.ClientID) > 23 {
		return nil, doc.Errorf("broker.clientId", "MQTT 3.1 allows at most 23 characters")
	}
	switch strings.ToLower(b.Security.Type) {
	case "", "anonymous", "basic", "certificates":
	default:
		return nil, doc.Errorf("broker.security.type", "must be anonymous, basic or certificates, got %q", b.Security.Type)
	}
	if b.MaxNumberOfWorkers < 0 || b.MaxMessageNumberPerWorker < 0 || b.MaxMessageQueue < 0 || b.MaxProcessingMessageQueue < 0 {
		return nil, doc.Errorf("broker", "worker and queue sizes must not be negative")
	}
	p.workers = min(runtime.GOMAXPROCS(0), maxWorkersCap)
	if b.MaxNumberOfWorkers > 0 {
		p.workers = min(p.workers, b.MaxNumberOfWorkers)
	}
	p.queue = defaultQueue
	if b.MaxMessageQueue > 0 {
		p.queue = min(b.MaxMessageQueue, maxQueue)
	}
	p.queue = max(p.queue, p.workers)
	p.requestQueue = 256
	if b.MaxProcessingMessageQueue > 0 {
		p.requestQueue = min(b.MaxProcessingMessageQueue, 4096)
	}

	// Data mappings: "mapping", or "dataMapping" when mapping is empty
	// (upstream picks one of the two the same way).
	maps, section := c.Mapping, "mapping"
	if len(maps) == 0 && len(c.DataMapping) > 0 {
		maps, section = c.DataMapping, "dataMapping"
	} else if len(c.DataMapping) > 0 {
		env.Log.Warn("config: both mapping and dataMapping are set; dataMapping is ignored")
	}
	for i := range maps {
		m, err := compileMapping(&maps[i], doc, fmt.Sprintf("%s[%d]", section, i), b.SendDataOnlyOnChange)
		if err != nil {
			return nil, err
		}
		p.maps = append(p.maps, m)
		p.addSub(m.filter.sub, m.qos)
	}

	// Requests: top-level lists (old layout) win over requestsMapping.
	r := c.requestsConf
	rpath := func(name string) string { return name }
	if c.RequestsMapping != nil {
		rm := c.RequestsMapping
		pick := func(top, in int) bool { return top == 0 && in > 0 }
		if pick(len(r.ConnectRequests), len(rm.ConnectRequests)) {
			r.ConnectRequests = rm.ConnectRequests
		}
		if pick(len(r.DisconnectRequests), len(rm.DisconnectRequests)) {
			r.DisconnectRequests = rm.DisconnectRequests
		}
		if pick(len(r.AttributeRequests), len(rm.AttributeRequests)) {
			r.AttributeRequests = rm.AttributeRequests
		}
		if pick(len(r.AttributeUpdates), len(rm.AttributeUpdates)) {
			r.AttributeUpdates = rm.AttributeUpdates
		}
		if pick(len(r.ServerSideRPC), len(rm.ServerSideRPC)) {
			r.ServerSideRPC = rm.ServerSideRPC
		}
		rpath = func(name string) string {
			if doc.Has(name) {
				return name
			}
			return "requestsMapping." + name
		}
	}
	for i := range r.ConnectRequests {
		dr, err := compileDeviceRequest(&r.ConnectRequests[i], doc, fmt.Sprintf("%s[%d]", rpath("connectRequests"), i))
		if err != nil {
			return nil, err
		}
		p.connects = append(p.connects, dr)
		p.addSub(dr.filter.sub, dr.qos)
	}
	for i := range r.DisconnectRequests {
		dr, err := compileDeviceRequest(&r.DisconnectRequests[i], doc, fmt.Sprintf("%s[%d]", rpath("disconnectRequests"), i))
		if err != nil {
			return nil, err
		}
		p.disconnects = append(p.disconnects, dr)
		p.addSub(dr.filter.sub, dr.qos)
	}
	for i := range r.AttributeRequests {
		ar, err := compileAttrRequest(&r.AttributeRequests[i], doc, fmt.Sprintf("%s[%d]", rpath("attributeRequests"), i))
		if err != nil {
			return nil, err
		}
		p.attrReqs = append(p.attrReqs, ar)
		p.addSub(ar.filter.sub, ar.deviceRequest.qos)
	}
	for i := range r.AttributeUpdates {
		au, err := compileAttrUpdate(&r.AttributeUpdates[i], doc, fmt.Sprintf("%s[%d]", rpath("attributeUpdates"), i))
		if err != nil {
			if err = env.skip(err); err != nil {
				return nil, err
			}
			continue
		}
		p.attrUpds = append(p.attrUpds, au)
	}
	for i := range r.ServerSideRPC {
		path := fmt.Sprintf("%s[%d]", rpath("serverSideRpc"), i)
		rc := &r.ServerSideRPC[i]
		if rc.DeviceNameFilter == "" || rc.MethodFilter == "" {
			if err := env.skip(doc.Errorf(path, "deviceNameFilter and methodFilter are required")); err != nil {
				return nil, err
			}
			continue
		}
		rr, err := compileRPC(rc, false)
		if err != nil {
			if err = env.skip(doc.Errorf(path, "%v", err)); err != nil {
				return nil, err
			}
			continue
		}
		p.rpcs = append(p.rpcs, rr)
	}
	return p, nil
}

func (p *plan) addSub(f string, qos byte) {
	for i := range p.subs {
		if p.subs[i].filter == f {
			p.subs[i].qos = max(p.subs[i].qos, qos)
			return
		}
	}
	p.subs = append(p.subs, subscription{f, qos})
}

func compileQoS(q *int, def byte, doc *conf.Doc, path string) (byte, error) {
	if q == nil {
		return def, nil
	}
	if *q < 0 || *q > 2 {
		return 0, doc.Errorf(path, "must be 0, 1 or 2")
	}
	return byte(*q), nil
}

func compileMapping(m *mappingConf, doc *conf.Doc, path string, brokerOnChange bool) (*dataMap, error) {
	f, err := compileFilter(m.TopicFilter)
	if err != nil {
		return nil, doc.Errorf(path+".topicFilter", "%v", err)
	}
	dm := &dataMap{filter: f, name: m.TopicFilter}
	if dm.qos, err = compileQoS(m.SubscriptionQoS, 1, doc, path+".subscriptionQos"); err != nil {
		return nil, err
	}
	if m.Converter == nil {
		return nil, doc.Errorf(path+".converter", "required")
	}
	if m.ReportStrategy != nil {
		s, err := strategyOf(m.ReportStrategy)
		if err != nil {
			return nil, doc.Errorf(path+".reportStrategy", "%v", err)
		}
		dm.report = s
	}
	onChange := brokerOnChange || (m.Converter.SendDataOnlyOnChange != nil && *m.Converter.SendDataOnlyOnChange)
	if dm.report == nil && onChange {
		dm.report = &codec.Strategy{Type: codec.OnChange, TTLSec: codec.DefaultTTLSec}
	}
	if dm.conv, err = newUplink(m, dm.report, doc, path+".converter"); err != nil {
		return nil, err
	}
	return dm, nil
}

func strategyOf(s *strategyConf) (*codec.Strategy, error) {
	c := codec.StrategyConfig{Type: s.Type, AggregationFunction: s.AggregationFunction}
	if s.ReportPeriod != nil {
		v := float64(*s.ReportPeriod)
		c.ReportPeriod = &v
	}
	if s.TTL != nil {
		v := float64(*s.TTL)
		c.TTL = &v
	}
	return c.Strategy()
}

// deviceInfoOf folds the legacy naming keys into a deviceInfo block.
func deviceInfoOf(di *deviceInfoConf, l *legacyDevice) deviceInfoConf {
	var out deviceInfoConf
	if di != nil {
		out = *di
	}
	if l.DeviceNameJSONExpression != "" {
		out.DeviceNameExpressionSource, out.DeviceNameExpression = "message", l.DeviceNameJSONExpression
	}
	if l.DeviceTypeJSONExpression != "" {
		out.DeviceProfileExpressionSource, out.DeviceProfileExpression = "message", l.DeviceTypeJSONExpression
	}
	if l.DeviceNameTopicExpression != "" {
		out.DeviceNameExpressionSource, out.DeviceNameExpression = "topic", l.DeviceNameTopicExpression
	}
	if l.DeviceTypeTopicExpression != "" {
		out.DeviceProfileExpressionSource, out.DeviceProfileExpression = "topic", l.DeviceTypeTopicExpression
	}
	return out
}

func compileNameExpr(src, expr string) (*nameExpr, error) {
	n := &nameExpr{src: strings.ToLower(src)}
	switch n.src {
	case "", "constant":
		n.src, n.constant = "constant", expr
	case "message", "request", "expression":
		n.src = "message"
		t, err := tmpl.Compile(expr)
		if err != nil {
			return nil, err
		}
		if t.IsConst() {
			n.src, n.constant = "constant", expr
		}
		n.tmpl = t
	case "topic":
		re, err := pyre.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("bad topic expression %q: %v", expr, err)
		}
		n.re = re
	default:
		return nil, fmt.Errorf("unknown expression source %q (want message, topic or constant)", src)
	}
	return n, nil
}

func compileDeviceRequest(r *deviceRequestConf, doc *conf.Doc, path string) (*deviceRequest, error) {
	return compileDeviceReq(r.TopicFilter, r.SubscriptionQoS, r.DeviceInfo, &r.legacyDevice, doc, path)
}

func compileDeviceReq(topicFilter string, qos *int, di *deviceInfoConf, l *legacyDevice, doc *conf.Doc, path string) (*deviceRequest, error) {
	f, err := compileFilter(topicFilter)
	if err != nil {
		return nil, doc.Errorf(path+".topicFilter", "%v", err)
	}
	dr := &deviceRequest{filter: f}
	if dr.qos, err = compileQoS(qos, 1, doc, path+".subscriptionQos"); err != nil {
		return nil, err
	}
	info := deviceInfoOf(di, l)
	if info.DeviceNameExpression == "" {
		return nil, doc.Errorf(path+".deviceInfo.deviceNameExpression", "required")
	}
	if dr.name, err = compileNameExpr(info.DeviceNameExpressionSource, info.DeviceNameExpression); err != nil {
		return nil, doc.Errorf(path+".deviceInfo", "%v", err)
	}
	if info.DeviceProfileExpression != "" {
		if dr.profile, err = compileNameExpr(info.DeviceProfileExpressionSource, info.DeviceProfileExpression); err != nil {
			return nil, doc.Errorf(path+".deviceInfo", "%v", err)
		}
	}
	return dr, nil
}

func compileAttrRequest(r *attrRequestConf, doc *conf.Doc, path string) (*attrRequest, error) {
	dr, err := compileDeviceReq(r.TopicFilter, r.SubscriptionQoS, r.DeviceInfo, &r.legacyDevice, doc, path)
	if err != nil {
		return nil, err
	}
	ar := &attrRequest{deviceRequest: *dr, retain: r.Retain}
	src, expr := strings.ToLower(r.AttributeNameExpressionSource), r.AttributeNameExpression
	if r.AttributeNameJSONExpression != "" {
		src, expr = "message", r.AttributeNameJSONExpression
	} else if r.AttributeNameTopicExpression != "" {
		src, expr = "topic", r.AttributeNameTopicExpression
	}
	if expr == "" {
		return nil, doc.Errorf(path+".attributeNameExpression", "required")
	}
	switch src {
	case "", "message":
		ar.keySrc = "message"
		if ar.keyTmpl, err = tmpl.Compile(expr); err != nil {
			return nil, doc.Errorf(path+".attributeNameExpression", "%v", err)
		}
		if ar.keyTmpl.IsConst() {
			ar.keySrc, ar.keyConst = "constant", splitKeys(expr)
		}
		for _, v := range ar.keyTmpl.Vars() {
			t, err := tmpl.Compile("${" + v + "}")
			if err != nil {
				return nil, doc.Errorf(path+".attributeNameExpression", "%v", err)
			}
			ar.keyTmpls = append(ar.keyTmpls, t)
		}
	case "constant":
		ar.keySrc, ar.keyConst = "constant", splitKeys(expr)
	case "topic":
		ar.keySrc = "topic"
		if ar.keyRe, err = pyre.Compile(expr); err != nil {
			return nil, doc.Errorf(path+".attributeNameExpression", "%v", err)
		}
	default:
		return nil, doc.Errorf(path+".attributeNameExpressionSource", "must be message, topic or constant")
	}
	switch strings.ToLower(r.Scope) {
	case "", "shared":
		ar.scope = "shared"
	case "client":
		ar.scope = "client"
	default:
		return nil, doc.Errorf(path+".scope", "must be shared or client")
	}
	if r.TopicExpression == "" || r.ValueExpression == "" {
		return nil, doc.Errorf(path, "topicExpression and valueExpression are required")
	}
	if ar.topic, err = tmpl.Compile(r.TopicExpression); err != nil {
		return nil, doc.Errorf(path+".topicExpression", "%v", err)
	}
	if ar.value, err = tmpl.Compile(r.ValueExpression); err != nil {
		return nil, doc.Errorf(path+".valueExpression", "%v", err)
	}
	q := r.QoS
	if ar.qos, err = compileQoS(&q, 0, doc, path+".qos"); err != nil {
		return nil, err
	}
	return ar, nil
}

// splitKeys splits a constant attribute name list "a, b".
func splitKeys(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func compileAttrUpdate(r *attrUpdateConf, doc *conf.Doc, path string) (*attrUpdate, error) {
	if r.DeviceNameFilter == "" || r.AttributeFilter == "" || r.TopicExpression == "" || r.ValueExpression == "" {
		return nil, doc.Errorf(path, "deviceNameFilter, attributeFilter, topicExpression and valueExpression are required")
	}
	au := &attrUpdate{retain: r.Retain}
	var err error
	if au.device, err = pyre.Compile(r.DeviceNameFilter); err != nil {
		return nil, doc.Errorf(path+".deviceNameFilter", "%v", err)
	}
	if au.attr, err = pyre.Compile(r.AttributeFilter); err != nil {
		return nil, doc.Errorf(path+".attributeFilter", "%v", err)
	}
	if au.topic, err = tmpl.Compile(r.TopicExpression); err != nil {
		return nil, doc.Errorf(path+".topicExpression", "%v", err)
	}
	if au.value, err = tmpl.Compile(r.ValueExpression); err != nil {
		return nil, doc.Errorf(path+".valueExpression", "%v", err)
	}
	q := r.QoS
	if au.qos, err = compileQoS(&q, 0, doc, path+".qos"); err != nil {
		return nil, err
	}
	return au, nil
}

// compileRPC builds a route from a serverSideRpc entry or from the params
// of a reserved/connector RPC (adhoc: no filters, default timeout).
func compileRPC(r *rpcConf, adhoc bool) (*rpcRoute, error) {
	rr := &rpcRoute{retain: r.Retain, respQoS: 1}
	var err error
	if !adhoc {
		if rr.device, err = pyre.Compile(r.DeviceNameFilter); err != nil {
			return nil, fmt.Errorf("deviceNameFilter: %v", err)
		}
		if rr.method, err = pyre.Compile(r.MethodFilter); err != nil {
			return nil, fmt.Errorf("methodFilter: %v", err)
		}
	}
	if r.RequestTopicExpression == "" {
		return nil, fmt.Errorf("requestTopicExpression is required")
	}
	if rr.reqTopic, err = tmpl.Compile(r.RequestTopicExpression); err != nil {
		return nil, fmt.Errorf("requestTopicExpression: %v", err)
	}
	if r.ValueExpression == "" && !adhoc {
		return nil, fmt.Errorf("valueExpression is required")
	}
	if rr.value, err = tmpl.Compile(r.ValueExpression); err != nil {
		return nil, fmt.Errorf("valueExpression: %v", err)
	}
	if r.QoS < 0 || r.QoS > 2 {
		return nil, fmt.Errorf("qos must be 0, 1 or 2")
	}
	rr.qos = byte(r.QoS)
	if r.ResponseTopicQoS != nil {
		if *r.ResponseTopicQoS < 0 || *r.ResponseTopicQoS > 2 {
			return nil, fmt.Errorf("responseTopicQoS must be 0, 1 or 2")
		}
		rr.respQoS = byte(*r.ResponseTopicQoS)
	}
	var timeout float64
	if r.ResponseTimeout != "" {
		if timeout, err = strconv.ParseFloat(string(r.ResponseTimeout), 64); err != nil || timeout < 0 {
			return nil, fmt.Errorf("responseTimeout must be a non-negative number of milliseconds")
		}
	}
	if r.ResponseTopicExpression != "" {
		if adhoc && timeout == 0 {
			timeout = defaultRPCTimeoutMs
		}
		if timeout > 0 {
			if rr.respTopic, err = tmpl.Compile(r.ResponseTopicExpression); err != nil {
				return nil, fmt.Errorf("responseTopicExpression: %v", err)
			}
			rr.timeout = time.Duration(timeout * float64(time.Millisecond))
		}
	}
	return rr, nil
}

// defaultRPCTimeoutMs applies to reserved get/set RPCs that name a
// response topic but no timeout.
const defaultRPCTimeoutMs = 5000

// eval resolves a name against a message: topic, and the payload parsed
// as JSON (doc nil when it is not JSON).
func (n *nameExpr) eval(topic string, doc *jpath.Doc) (string, bool) {
	switch n.src {
	case "constant":
		return n.constant, n.constant != ""
	case "topic":
		return n.re.Find(topic)
	}
	if doc == nil {
		return "", false
	}
	b, missing := n.tmpl.Append(nil, doc, doc.Root(), tmpl.MissingEmpty)
	if missing == n.tmpl.NumVars() || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// envLike is the part of connector.Env compile needs.
type envLike struct {
	Log       *slog.Logger
	ConfigDir string
	Strict    bool
}

// skip leaves out an unusable attributeUpdates or serverSideRpc entry with
// a warning, as upstream does (an error in strict mode).
func (e envLike) skip(err error) error {
	return kit.Skip(connector.Env{Log: e.Log, Strict: e.Strict}, err)
}
