package xmpp

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/codec/xmpp"
	"github.com/tbgw/tbgw/drivers/kit/tlsconf"
)

type fileConfig struct {
	Name                string                `json:"name"`
	ID                  string                `json:"id"`
	Type                string                `json:"type"`
	LogLevel            string                `json:"logLevel"`
	EnableRemoteLogging bool                  `json:"enableRemoteLogging"`
	ConfigVersion       string                `json:"configVersion"`
	ReportStrategy      *codec.StrategyConfig `json:"reportStrategy"`
	Server              serverConfig          `json:"server"`
	Devices             []deviceConfig        `json:"devices"`
}

type serverConfig struct {
	JID                  string   `json:"jid"`
	Password             string   `json:"password"`
	Host                 string   `json:"host"`
	Port                 *int     `json:"port"`
	UseSSL               bool     `json:"use_ssl"`
	DisableStartTLS      bool     `json:"disable_starttls"`
	ForceStartTLS        *bool    `json:"force_starttls"`
	Timeout              *float64 `json:"timeout"` // ms
	Plugins              []string `json:"plugins"`
	UnencryptedPlainAuth *bool    `json:"unencrypted_plain_auth"`
	// tbgw additions.
	CACert         string   `json:"caCert"`         // verify the server against this CA
	Insecure       bool     `json:"insecure"`       // do not verify the server certificate
	Mechanisms     []string `json:"saslMechanisms"` // allowed, in order of preference
	ReconnectDelay *float64 `json:"reconnectDelay"` // s, first delay after a lost session
	ReconnectMax   *float64 `json:"reconnectMax"`   // s, cap of the back-off
	PingInterval   *float64 `json:"pingInterval"`   // s, XEP-0199 pings to the server; 0 disables
}

type deviceConfig struct {
	JID                  string                `json:"jid"`
	DeviceNameExpression string                `json:"deviceNameExpression"`
	DeviceTypeExpression string                `json:"deviceTypeExpression"`
	Attributes           []convert.Datapoint   `json:"attributes"`
	Timeseries           []convert.Datapoint   `json:"timeseries"`
	AttributeUpdates     []attributeUpdate     `json:"attributeUpdates"`
	ServerSideRPC        []serverRPC           `json:"serverSideRpc"`
	ReportStrategy       *codec.StrategyConfig `json:"reportStrategy"`
	Converter            string                `json:"converter"`
}

type attributeUpdate struct {
	AttributeOnThingsBoard string `json:"attributeOnThingsBoard"`
	ValueExpression        string `json:"valueExpression"`
}

type serverRPC struct {
	MethodRPC       string `json:"methodRPC"`
	WithResponse    *bool  `json:"withResponse"`
	ValueExpression string `json:"valueExpression"`
}

type plan struct {
	jid              xmpp.JID
	password         string
	addr             string
	useSSL           bool
	disableStartTLS  bool
	forceStartTLS    bool
	plainUnencrypted bool
	timeout          time.Duration
	tls              *tls.Config
	mechanisms       []string
	reconnMin        time.Duration
	reconnMax        time.Duration
	ping             time.Duration
	devices          []*device
}

func (p *plan) tlsConfig() *tls.Config { return p.tls.Clone() }

type device struct {
	index   int
	jid     xmpp.JID
	conv    *convert.JSON    // the built-in conversion, nil with py
	py      codec.CallUplink // the device's custom converter class
	pyCfg   json.RawMessage  // its configuration, what the class gets
	attrUpd []attrUpd
	rpcs    map[string]rpcPlan
}

type attrUpd struct {
	key   string
	value *tmpl.Template
}

type rpcPlan struct {
	value        *tmpl.Template
	withResponse bool
}

// knownPlugins are slixmpp plugins upstream configurations list; the
// features they stand for are built in (service discovery answers,
// messages) or not applicable.
var knownPlugins = map[string]bool{"xep_0030": true, "xep_0199": true, "xep_0323": true, "xep_0325": true, "xep_0004": true, "xep_0060": true}

func compile(doc *conf.Doc, cfg *fileConfig, configDir string, warn func(string)) (*plan, error) {
	s := &cfg.Server
	p := &plan{password: s.Password, useSSL: s.UseSSL, disableStartTLS: s.DisableStartTLS, forceStartTLS: true,
		plainUnencrypted: true, timeout: 10 * time.Second, mechanisms: xmpp.Mechanisms,
		reconnMin: time.Second, reconnMax: time.Minute, ping: time.Minute}
	var err error
	if s.JID == "" {
		return nil, doc.Errorf("server.jid", "required")
	}
	if p.jid, err = xmpp.ParseJID(s.JID); err != nil || p.jid.Local == "" {
		if err == nil {
			err = fmt.Errorf("needs a local part (user@domain)")
		}
		return nil, doc.Errorf("server.jid", "%v", err)
	}
	host := s.Host
	if host == "" {
		host = p.jid.Domain
	}
	port := 5222
	if s.UseSSL {
		port = 5223
	}
	if s.Port != nil {
		if *s.Port < 1 || *s.Port > 65535 {
			return nil, doc.Errorf("server.port", "must be 1..65535")
		}
		port = *s.Port
	}
	p.addr = net.JoinHostPort(host, strconv.Itoa(port))
	if s.ForceStartTLS != nil {
		p.forceStartTLS = *s.ForceStartTLS
	}
	if s.UseSSL {
		p.forceStartTLS = false // already encrypted
	}
	if s.DisableStartTLS && p.forceStartTLS && s.ForceStartTLS != nil {
		return nil, doc.Errorf("server.disable_starttls", "contradicts force_starttls: set one of them")
	}
	if s.DisableStartTLS {
		p.forceStartTLS = false
	}
	if s.UnencryptedPlainAuth != nil {
		p.plainUnencrypted = *s.UnencryptedPlainAuth
	}
	if s.Timeout != nil {
		if *s.Timeout <= 0 {
			return nil, doc.Errorf("server.timeout", "must be positive (milliseconds)")
		}
		p.timeout = time.Duration(*s.Timeout * float64(time.Millisecond))
	}
	secs := func(v *float64, key string, d *time.Duration) error {
		if v == nil {
			return nil
		}
		if *v <= 0 {
			return doc.Errorf(key, "must be positive")
		}
		*d = time.Duration(*v * float64(time.Second))
		return nil
	}
	if err := secs(s.ReconnectDelay, "server.reconnectDelay", &p.reconnMin); err != nil {
		return nil, err
	}
	if err := secs(s.ReconnectMax, "server.reconnectMax", &p.reconnMax); err != nil {
		return nil, err
	}
	if s.PingInterval != nil {
		if *s.PingInterval < 0 {
			return nil, doc.Errorf("server.pingInterval", "must not be negative")
		}
		p.ping = time.Duration(*s.PingInterval * float64(time.Second))
	}
	if s.Mechanisms != nil {
		p.mechanisms = nil
		for i, m := range s.Mechanisms {
			m = strings.ToUpper(m)
			if !contains(xmpp.Mechanisms, m) {
				return nil, doc.Errorf(fmt.Sprintf("server.saslMechanisms[%d]", i), "must be one of %v", xmpp.Mechanisms)
			}
			p.mechanisms = append(p.mechanisms, m)
		}
	}
	ca := s.CACert
	if ca != "" && !strings.Contains(ca, "-----BEGIN") && configDir != "" && !strings.HasPrefix(ca, "/") {
		ca = configDir + "/" + ca
	}
	if p.tls, err = (tlsconf.Options{CAFile: ca, ServerName: p.jid.Domain, Insecure: s.Insecure}).Client(); err != nil { // RFC 6120: the certificate names the XMPP domain
		return nil, doc.Errorf("server.caCert", "%v", err)
	}
	for i, pl := range s.Plugins {
		if !knownPlugins[pl] {
			warn(fmt.Sprintf("server.plugins[%d]: %q is not available and ignored", i, pl))
		}
	}
	connReport, err := cfg.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf("reportStrategy", "%v", err)
	}
	seen := map[string]bool{}
	for i := range cfg.Devices {
		d, err := compileDevice(doc, &cfg.Devices[i], i, connReport, warn)
		if err != nil {
			return nil, err
		}
		if seen[d.jid.String()] {
			return nil, doc.Errorf(fmt.Sprintf("devices[%d].jid", i), "%s is configured twice", d.jid)
		}
		seen[d.jid.String()] = true
		p.devices = append(p.devices, d)
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func compileDevice(doc *conf.Doc, c *deviceConfig, i int, connReport *codec.Strategy, warn func(string)) (*device, error) {
	path := fmt.Sprintf("devices[%d]", i)
	d := &device{index: i, rpcs: map[string]rpcPlan{}}
	var err error
	if c.JID == "" {
		return nil, doc.Errorf(path+".jid", "required")
	}
	if d.jid, err = xmpp.ParseJID(c.JID); err != nil {
		return nil, doc.Errorf(path+".jid", "%v", err)
	}
	if c.DeviceNameExpression == "" {
		return nil, doc.Errorf(path+".deviceNameExpression", "required")
	}
	if c.Converter != "" && c.Converter != defaultConverter {
		// The class reads attributes and timeseries itself.
		if d.py, d.pyCfg, err = customConverter(doc, path, c.Converter, i, warn); err != nil {
			return nil, err
		}
	}
	if d.py == nil {
		cc := &convert.Config{Type: "json", DeviceNameExpression: c.DeviceNameExpression,
			DeviceTypeExpression: def(c.DeviceTypeExpression, "default"), ReportStrategy: c.ReportStrategy}
		cc.Attributes.List, cc.Timeseries.List = c.Attributes, c.Timeseries
		if d.conv, err = convert.NewJSON(cc, convert.Options{Report: connReport}); err != nil {
			var ce *convert.Error
			if asConvErr(err, &ce) {
				return nil, doc.Errorf(path+"."+ce.Path, "%s", ce.Msg)
			}
			return nil, doc.Errorf(path, "%v", err)
		}
	}
	for j, u := range c.AttributeUpdates {
		up := fmt.Sprintf("%s.attributeUpdates[%d]", path, j)
		if u.AttributeOnThingsBoard == "" {
			return nil, doc.Errorf(up+".attributeOnThingsBoard", "required")
		}
		t, err := tmpl.Compile(u.ValueExpression)
		if err != nil {
			return nil, doc.Errorf(up+".valueExpression", "%v", err)
		}
		d.attrUpd = append(d.attrUpd, attrUpd{key: u.AttributeOnThingsBoard, value: t})
	}
	for j, r := range c.ServerSideRPC {
		rp := fmt.Sprintf("%s.serverSideRpc[%d]", path, j)
		if r.MethodRPC == "" {
			return nil, doc.Errorf(rp+".methodRPC", "required")
		}
		t, err := tmpl.Compile(r.ValueExpression)
		if err != nil {
			return nil, doc.Errorf(rp+".valueExpression", "%v", err)
		}
		d.rpcs[r.MethodRPC] = rpcPlan{value: t, withResponse: r.WithResponse == nil || *r.WithResponse}
	}
	return d, nil
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
