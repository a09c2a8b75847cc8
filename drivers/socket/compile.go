package socket

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/bytesexpr"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/drivers/httpout"
)

const defaultConverter = "BytesSocketUplinkConverter"

type plan struct {
	udp       bool
	client    bool
	addr      string
	bufSize   int
	frame     framing
	maxConns  int
	idle      time.Duration
	write     time.Duration
	reconnect time.Duration
	devices   []*device
}

type device struct {
	name, typ string
	pattern   string
	addr      *pyre.Regex
	enc       string
	points    []point
	conv      codec.Uplink // a registered custom converter, else nil
	attrReqs  []attrReq
	updates   []update
	rpcs      []rpcEntry
}

type point struct {
	attr   bool
	key    string
	sel    bytesexpr.Slice
	report *codec.Strategy
}

type attrReq struct {
	client bool
	match  bytesexpr.Slice
	equal  string
	names  []bytesexpr.Slice
}

type update struct {
	key, enc string
}

type rpcEntry struct {
	method   string
	enc      string
	write    bool
	response bool
}

var (
	requestExpr = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$\{\s*(\[[^\]]*\])\s*==\s*(.*)\}$`) })
	sliceExpr   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[[^\s\]][0-9:\-]*\]`) })
)

func compile(doc *conf.Doc, cfg *fileConfig) (*plan, error) {
	s := cfg.Socket
	sp := "socket."
	if s == nil {
		s = &socketConf{Type: cfg.Type, Address: cfg.Address, Port: cfg.Port, BufferSize: cfg.BufferSize}
		sp = ""
	}
	p := &plan{bufSize: 1024, maxConns: 64, idle: 300 * time.Second, write: 5 * time.Second, reconnect: time.Second}
	switch strings.ToUpper(s.Type) {
	case "", "TCP":
	case "UDP":
		p.udp = true
	default:
		return nil, doc.Errorf(sp+"type", "want TCP or UDP, got %q", s.Type)
	}
	switch strings.ToLower(s.Mode) {
	case "", "server":
	case "client":
		p.client = true
	default:
		return nil, doc.Errorf(sp+"mode", "want server or client, got %q", s.Mode)
	}
	host := s.Address
	if host == "" {
		host = "127.0.0.1"
	}
	port := 50000
	if s.Port != nil {
		port = *s.Port
	}
	if port < 0 || port > 65535 || (p.client && port == 0) {
		return nil, doc.Errorf(sp+"port", "want a port number 1 to 65535")
	}
	p.addr = net.JoinHostPort(host, strconv.Itoa(port))
	bs := s.BufferSize
	if bs == nil {
		bs = s.BufferSizeLegacy
	}
	if bs != nil {
		if *bs < 1 || *bs > 1<<20 {
			return nil, doc.Errorf(sp+"bufferSize", "want 1 to 1048576 bytes")
		}
		p.bufSize = *bs
	}
	if s.MaxConnections < 0 || s.MaxConnections > 10000 {
		return nil, doc.Errorf(sp+"maxConnections", "want 1 to 10000")
	}
	if s.MaxConnections > 0 {
		p.maxConns = s.MaxConnections
	}
	for k, v := range map[string]*httpout.Seconds{"idleTimeout": s.IdleTimeout, "writeTimeout": s.WriteTimeout, "reconnectPeriod": s.ReconnectMin} {
		if !v.Valid() {
			return nil, doc.Errorf(sp+k, "want a number of seconds")
		}
	}
	if s.IdleTimeout != nil {
		p.idle = time.Duration(float64(*s.IdleTimeout) * float64(time.Second))
	}
	if s.WriteTimeout != nil && *s.WriteTimeout > 0 {
		p.write = time.Duration(float64(*s.WriteTimeout) * float64(time.Second))
	}
	if s.ReconnectMin != nil && *s.ReconnectMin > 0 {
		p.reconnect = time.Duration(float64(*s.ReconnectMin) * float64(time.Second))
	}
	var err error
	if p.frame, err = compileFraming(s.Framing, p.bufSize); err != nil {
		return nil, doc.Errorf(sp+"framing", "%v", err)
	}
	if len(cfg.Devices) == 0 {
		return nil, doc.Errorf("devices", "at least one device is required")
	}
	for i := range cfg.Devices {
		d, err := compileDevice(doc, fmt.Sprintf("devices[%d]", i), &cfg.Devices[i])
		if err != nil {
			return nil, err
		}
		p.devices = append(p.devices, d)
	}
	return p, nil
}

func checkEncoding(enc string) error {
	switch enc {
	case "hex", "utf-8", "utf8", "ascii", "us-ascii", "latin-1", "latin1", "iso-8859-1",
		"utf-16", "utf16", "utf-16le", "utf-16-le", "utf-16be", "utf-16-be":
		return nil
	}
	return fmt.Errorf("want hex, utf-8, ascii, latin-1, utf-16, utf-16le or utf-16be, got %q", enc)
}

func compileDevice(doc *conf.Doc, path string, dc *deviceConf) (*device, error) {
	d := &device{name: dc.DeviceName, typ: dc.DeviceType, enc: strings.ToLower(dc.Encoding)}
	if d.name == "" {
		return nil, doc.Errorf(path+".deviceName", "required")
	}
	if d.typ == "" {
		d.typ = "default"
	}
	if d.enc == "" {
		d.enc = "utf-8"
	}
	if err := checkEncoding(d.enc); err != nil {
		return nil, doc.Errorf(path+".encoding", "%v", err)
	}
	d.pattern = dc.AddressFilter
	key := path + ".addressFilter"
	if d.pattern == "" {
		d.pattern, key = dc.Address, path+".address"
	}
	if d.pattern == "" {
		return nil, doc.Errorf(path+".address", "required (ip:port, * as wildcard)")
	}
	var err error
	if d.addr, err = pyre.Compile(strings.ReplaceAll(d.pattern, "*", ".*")); err != nil {
		return nil, doc.Errorf(key, "%v", err)
	}
	report, err := dc.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	if dc.Converter != "" && dc.Converter != defaultConverter {
		cfg, _ := json.Marshal(map[string]string{"deviceName": d.name, "deviceType": d.typ})
		if d.conv, err = codec.NewUplink(dc.Converter, cfg); err != nil {
			return nil, doc.Errorf(path+".converter", "%v", err)
		}
	}
	for _, sec := range []struct {
		name  string
		list  []pointConf
		attrs bool
	}{{"telemetry", dc.Telemetry, false}, {"attributes", dc.Attributes, true}} {
		for i, pc := range sec.list {
			pp := fmt.Sprintf("%s.%s[%d]", path, sec.name, i)
			if pc.Key == "" {
				return nil, doc.Errorf(pp+".key", "required")
			}
			pt := point{attr: sec.attrs, key: pc.Key, report: report}
			if pc.ByteFrom != nil {
				pt.sel.Lo, pt.sel.HasLo = *pc.ByteFrom, true
			}
			if pc.ByteTo != nil && *pc.ByteTo != -1 {
				pt.sel.Hi, pt.sel.HasHi = *pc.ByteTo, true
			}
			if pc.ReportStrategy != nil {
				if pt.report, err = pc.ReportStrategy.Strategy(); err != nil {
					return nil, doc.Errorf(pp+".reportStrategy", "%v", err)
				}
			}
			d.points = append(d.points, pt)
		}
	}
	for i, ar := range dc.AttributeRequests {
		pp := fmt.Sprintf("%s.attributeRequests[%d]", path, i)
		var a attrReq
		switch strings.ToLower(ar.Type) {
		case "", "shared":
		case "client":
			a.client = true
		default:
			return nil, doc.Errorf(pp+".type", "want shared or client, got %q", ar.Type)
		}
		m := requestExpr().FindStringSubmatch(strings.TrimSpace(ar.RequestExpression))
		if m == nil {
			return nil, doc.Errorf(pp+".requestExpression", "want ${[from:to]==text}, got %q", ar.RequestExpression)
		}
		if a.match, err = bytesexpr.ParseSlice(m[1]); err != nil {
			return nil, doc.Errorf(pp+".requestExpression", "%v", err)
		}
		a.equal = m[2]
		for _, s := range sliceExpr().FindAllString(ar.AttributeNameExpression, -1) {
			sl, err := bytesexpr.ParseSlice(s)
			if err != nil {
				return nil, doc.Errorf(pp+".attributeNameExpression", "%v", err)
			}
			a.names = append(a.names, sl)
		}
		if len(a.names) == 0 {
			return nil, doc.Errorf(pp+".attributeNameExpression", "want byte slices such as [3:], got %q", ar.AttributeNameExpression)
		}
		d.attrReqs = append(d.attrReqs, a)
	}
	for i, au := range dc.AttributeUpdates {
		pp := fmt.Sprintf("%s.attributeUpdates[%d]", path, i)
		if au.AttributeOnThingsBoard == "" {
			return nil, doc.Errorf(pp+".attributeOnThingsBoard", "required")
		}
		u := update{key: au.AttributeOnThingsBoard, enc: strings.ToLower(au.Encoding)}
		if u.enc == "" {
			u.enc = d.enc
		}
		if err := checkEncoding(u.enc); err != nil {
			return nil, doc.Errorf(pp+".encoding", "%v", err)
		}
		d.updates = append(d.updates, u)
	}
	for i, rc := range dc.ServerSideRPC {
		pp := fmt.Sprintf("%s.serverSideRpc[%d]", path, i)
		if rc.MethodRPC == "" {
			return nil, doc.Errorf(pp+".methodRPC", "required")
		}
		r := rpcEntry{method: rc.MethodRPC, enc: strings.ToLower(rc.Encoding), write: true, response: rc.WithResponse}
		switch strings.ToLower(rc.MethodProcessing) {
		case "", "write":
		default:
			return nil, doc.Errorf(pp+".methodProcessing", "want write, got %q", rc.MethodProcessing)
		}
		if r.enc == "" {
			r.enc = d.enc
		}
		if err := checkEncoding(r.enc); err != nil {
			return nil, doc.Errorf(pp+".encoding", "%v", err)
		}
		d.rpcs = append(d.rpcs, r)
	}
	return d, nil
}
