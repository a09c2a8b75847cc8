package knx

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/knx"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/tmpl"
)

type fileConfig struct {
	Name                string                `json:"name"`
	ID                  string                `json:"id"`
	Type                string                `json:"type"`
	LogLevel            string                `json:"logLevel"`
	EnableRemoteLogging bool                  `json:"enableRemoteLogging"`
	ConfigVersion       string                `json:"configVersion"`
	ReportStrategy      *codec.StrategyConfig `json:"reportStrategy"`
	Client              clientConfig          `json:"client"`
	Devices             []deviceConfig        `json:"devices"`
	AttributeUpdates    []attrUpdateConfig    `json:"attributeUpdates"`
	ServerSideRPC       []rpcConfig           `json:"serverSideRpc"`
}

type clientConfig struct {
	Type              string   `json:"type"`
	AddressFormat     string   `json:"addressFormat"`
	LocalIP           string   `json:"localIp"`
	LocalPort         *int     `json:"localPort"`
	GatewayIP         string   `json:"gatewayIP"`
	GatewayIPAlt      string   `json:"gatewayIp"` // the spelling upstream's code reads
	GatewayPort       *int     `json:"gatewayPort"`
	IndividualAddress string   `json:"individualAddress"`
	RateLimit         *float64 `json:"rateLimit"`
	AutoReconnect     *bool    `json:"autoReconnect"`
	AutoReconnectWait *float64 `json:"autoReconnectWait"`
	MulticastGroup    string   `json:"multicastGroup"`
	MulticastPort     *int     `json:"multicastPort"`
	StateUpdater      any      `json:"stateUpdater"`
	GatewaysScanner   struct {
		Enabled     bool     `json:"enabled"`
		ScanPeriod  *float64 `json:"scanPeriod"`
		StopOnFound bool     `json:"stopOnFound"`
	} `json:"gatewaysScanner"`
	Security map[string]any `json:"security"`
	// tbgw additions.
	ReadTimeout       *float64 `json:"readTimeout"`       // s, answer to a GroupValueRead, default 2
	HeartbeatInterval *float64 `json:"heartbeatInterval"` // s, tunnel connection-state requests, default 60
}

type deviceConfig struct {
	DeviceInfo struct {
		DeviceNameDataType            string `json:"deviceNameDataType"`
		DeviceNameExpressionSource    string `json:"deviceNameExpressionSource"`
		DeviceNameExpression          string `json:"deviceNameExpression"`
		DeviceProfileDataType         string `json:"deviceProfileDataType"`
		DeviceProfileExpressionSource string `json:"deviceProfileExpressionSource"`
		DeviceProfileNameExpression   string `json:"deviceProfileNameExpression"`
		DeviceProfileExpression       string `json:"deviceProfileExpression"`
		DeviceTypeExpression          string `json:"deviceTypeExpression"`
	} `json:"deviceInfo"`
	PollPeriod     *float64              `json:"pollPeriod"` // ms
	Attributes     []pointConfig         `json:"attributes"`
	Timeseries     []pointConfig         `json:"timeseries"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
}

type pointConfig struct {
	Type           string                `json:"type"`
	Key            string                `json:"key"`
	GroupAddress   string                `json:"groupAddress"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
}

type attrUpdateConfig struct {
	DeviceNameFilter string `json:"deviceNameFilter"`
	DataType         string `json:"dataType"`
	GroupAddress     string `json:"groupAddress"`
	Key              string `json:"key"`
}

type rpcConfig struct {
	RequestType      string `json:"requestType"`
	DeviceNameFilter string `json:"deviceNameFilter"`
	Method           string `json:"method"`
	DataType         string `json:"dataType"`
	GroupAddress     string `json:"groupAddress"`
}

// Connection modes.
const (
	modeAuto = iota
	modeTunnel
	modeRouting
)

type plan struct {
	mode        int
	format      knx.Format
	local       netip.AddrPort // localIp:localPort
	gateway     netip.AddrPort // zero: search
	ia          knx.Individual
	rateGap     time.Duration // minimum gap between sent telegrams
	reconnect   bool
	reconnWait  time.Duration
	mcast       netip.AddrPort
	scan        bool
	scanPeriod  time.Duration
	stopOnFound bool
	readTimeout time.Duration
	heartbeat   time.Duration
	devices     []*device
	attrUpd     []attrUpd
	rpcs        []rpcEntry
}

// nameExpr is a device name or profile: a constant, or a template whose
// placeholders are group addresses read with one DPT.
type nameExpr struct {
	text string
	t    *tmpl.Template // nil: constant
	gas  []knx.Group
	dpt  *knx.DPT
}

type point struct {
	key    string
	ga     knx.Group
	dpt    *knx.DPT
	attr   bool
	report *codec.Strategy
}

type attrUpd struct {
	filter *pyre.Regex
	key    string
	ga     knx.Group
	dpt    *knx.DPT
}

type rpcEntry struct {
	filter *pyre.Regex
	method string
	write  bool
	ga     knx.Group
	dpt    *knx.DPT
}

func compile(doc *conf.Doc, cfg *fileConfig) (*plan, error) {
	c := &cfg.Client
	p := &plan{reconnect: true, reconnWait: 3 * time.Second, scanPeriod: 3 * time.Second,
		readTimeout: 2 * time.Second, heartbeat: 60 * time.Second, ia: 0xfffa} // 15.15.250, as xknx
	switch strings.ToUpper(strings.TrimSpace(c.Type)) {
	case "", "AUTOMATIC":
		p.mode = modeAuto
	case "TUNNELING", "TUNNELLING":
		p.mode = modeTunnel
	case "ROUTING":
		p.mode = modeRouting
	case "TUNNELING_TCP", "TUNNELING_TCP_SECURE", "ROUTING_SECURE":
		return nil, doc.Errorf("client.type", "%s is not supported (KNXnet/IP over UDP only, no KNX IP Secure)", c.Type)
	default:
		return nil, doc.Errorf("client.type", "must be AUTOMATIC, TUNNELING or ROUTING, not %q", c.Type)
	}
	var err error
	if p.format, err = knx.ParseFormat(c.AddressFormat); err != nil {
		return nil, doc.Errorf("client.addressFormat", "%v", err)
	}
	port := func(v *int, key string, def int) (uint16, error) {
		if v == nil {
			return uint16(def), nil
		}
		if *v < 0 || *v > 65535 {
			return 0, doc.Errorf("client."+key, "must be 0..65535")
		}
		return uint16(*v), nil
	}
	ip := func(s, key, def string) (netip.Addr, error) {
		if s == "" {
			s = def
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return netip.Addr{}, doc.Errorf("client."+key, "must be an IPv4 address")
		}
		return a, nil
	}
	lip, err := ip(c.LocalIP, "localIp", "0.0.0.0")
	if err != nil {
		return nil, err
	}
	lport, err := port(c.LocalPort, "localPort", 0)
	if err != nil {
		return nil, err
	}
	p.local = netip.AddrPortFrom(lip, lport)
	gwKey, gw := "gatewayIP", c.GatewayIP
	if gw == "" {
		gwKey, gw = "gatewayIp", c.GatewayIPAlt
	}
	gport, err := port(c.GatewayPort, "gatewayPort", 3671)
	if err != nil {
		return nil, err
	}
	if gw != "" {
		a, err := ip(gw, gwKey, "")
		if err != nil {
			return nil, err
		}
		p.gateway = netip.AddrPortFrom(a, gport)
	}
	mg, err := ip(c.MulticastGroup, "multicastGroup", "224.0.23.12")
	if err != nil {
		return nil, err
	}
	mport, err := port(c.MulticastPort, "multicastPort", 3671)
	if err != nil {
		return nil, err
	}
	p.mcast = netip.AddrPortFrom(mg, mport)
	if c.IndividualAddress != "" {
		if p.ia, err = knx.ParseIndividual(c.IndividualAddress); err != nil {
			return nil, doc.Errorf("client.individualAddress", "%v", err)
		}
	}
	if c.RateLimit != nil {
		if *c.RateLimit < 0 {
			return nil, doc.Errorf("client.rateLimit", "must not be negative")
		}
		if *c.RateLimit > 0 {
			p.rateGap = time.Duration(float64(time.Second) / *c.RateLimit)
		}
	}
	if c.AutoReconnect != nil {
		p.reconnect = *c.AutoReconnect
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
	if err := secs(c.AutoReconnectWait, "client.autoReconnectWait", &p.reconnWait); err != nil {
		return nil, err
	}
	if err := secs(c.GatewaysScanner.ScanPeriod, "client.gatewaysScanner.scanPeriod", &p.scanPeriod); err != nil {
		return nil, err
	}
	if err := secs(c.ReadTimeout, "client.readTimeout", &p.readTimeout); err != nil {
		return nil, err
	}
	if err := secs(c.HeartbeatInterval, "client.heartbeatInterval", &p.heartbeat); err != nil {
		return nil, err
	}
	p.scan, p.stopOnFound = c.GatewaysScanner.Enabled, c.GatewaysScanner.StopOnFound
	if len(c.Security) > 0 {
		return nil, doc.Errorf("client.security", "KNX IP Secure is not supported")
	}
	if p.mode == modeTunnel && !p.gateway.IsValid() && !p.scan {
		return nil, doc.Errorf("client", "TUNNELING needs gatewayIP or an enabled gatewaysScanner")
	}

	connReport, err := cfg.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf("reportStrategy", "%v", err)
	}
	for i := range cfg.Devices {
		d, err := compileDevice(doc, &cfg.Devices[i], i, connReport)
		if err != nil {
			return nil, err
		}
		p.devices = append(p.devices, d)
	}
	dpt := func(path, s string) (*knx.DPT, error) {
		if s == "" {
			return nil, doc.Errorf(path, "required")
		}
		t, err := knx.LookupDPT(s)
		if err != nil {
			return nil, doc.Errorf(path, "%v", err)
		}
		return t, nil
	}
	group := func(path, s string) (knx.Group, error) {
		g, err := knx.ParseGroup(s)
		if err != nil {
			return 0, doc.Errorf(path, "%v", err)
		}
		return g, nil
	}
	filter := func(path, s string) (*pyre.Regex, error) {
		if s == "" {
			s = ".*"
		}
		r, err := pyre.Compile(s)
		if err != nil {
			return nil, doc.Errorf(path, "%v", err)
		}
		return r, nil
	}
	for i, u := range cfg.AttributeUpdates {
		path := fmt.Sprintf("attributeUpdates[%d]", i)
		a := attrUpd{key: u.Key}
		if u.Key == "" {
			return nil, doc.Errorf(path+".key", "required")
		}
		if a.filter, err = filter(path+".deviceNameFilter", u.DeviceNameFilter); err != nil {
			return nil, err
		}
		if a.ga, err = group(path+".groupAddress", u.GroupAddress); err != nil {
			return nil, err
		}
		if a.dpt, err = dpt(path+".dataType", u.DataType); err != nil {
			return nil, err
		}
		p.attrUpd = append(p.attrUpd, a)
	}
	for i, r := range cfg.ServerSideRPC {
		path := fmt.Sprintf("serverSideRpc[%d]", i)
		e := rpcEntry{method: r.Method}
		if r.Method == "" {
			return nil, doc.Errorf(path+".method", "required")
		}
		switch strings.ToLower(r.RequestType) {
		case "read":
		case "write":
			e.write = true
		default:
			return nil, doc.Errorf(path+".requestType", "must be read or write, not %q", r.RequestType)
		}
		if e.filter, err = filter(path+".deviceNameFilter", r.DeviceNameFilter); err != nil {
			return nil, err
		}
		if e.ga, err = group(path+".groupAddress", r.GroupAddress); err != nil {
			return nil, err
		}
		if e.dpt, err = dpt(path+".dataType", r.DataType); err != nil {
			return nil, err
		}
		p.rpcs = append(p.rpcs, e)
	}
	return p, nil
}

func compileDevice(doc *conf.Doc, c *deviceConfig, i int, connReport *codec.Strategy) (*device, error) {
	path := fmt.Sprintf("devices[%d]", i)
	d := &device{index: i, period: 10 * time.Second}
	if c.PollPeriod != nil {
		if *c.PollPeriod <= 0 {
			return nil, doc.Errorf(path+".pollPeriod", "must be positive (milliseconds)")
		}
		d.period = time.Duration(*c.PollPeriod * float64(time.Millisecond))
	}
	di := &c.DeviceInfo
	var err error
	if d.name, err = compileName(doc, path+".deviceInfo.deviceNameExpression", di.DeviceNameExpressionSource,
		def(di.DeviceNameExpression, "KNX Device"), path+".deviceInfo.deviceNameDataType", di.DeviceNameDataType); err != nil {
		return nil, err
	}
	profile := di.DeviceProfileNameExpression
	if profile == "" {
		profile = di.DeviceProfileExpression
	}
	if profile == "" {
		profile = di.DeviceTypeExpression
	}
	if d.typ, err = compileName(doc, path+".deviceInfo.deviceProfileNameExpression", di.DeviceProfileExpressionSource,
		def(profile, "default"), path+".deviceInfo.deviceProfileDataType", di.DeviceProfileDataType); err != nil {
		return nil, err
	}
	report := connReport
	if r, err := c.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	} else if r != nil {
		report = r
	}
	add := func(list string, pts []pointConfig, attr bool) error {
		for j, pc := range pts {
			pp := fmt.Sprintf("%s.%s[%d]", path, list, j)
			if pc.Key == "" {
				return doc.Errorf(pp+".key", "required")
			}
			g, err := knx.ParseGroup(pc.GroupAddress)
			if err != nil {
				return doc.Errorf(pp+".groupAddress", "%v", err)
			}
			if pc.Type == "" {
				return doc.Errorf(pp+".type", "required (a DPT name or number)")
			}
			t, err := knx.LookupDPT(pc.Type)
			if err != nil {
				return doc.Errorf(pp+".type", "%v", err)
			}
			r := report
			if k, err := pc.ReportStrategy.Strategy(); err != nil {
				return doc.Errorf(pp+".reportStrategy", "%v", err)
			} else if k != nil {
				r = k
			}
			d.points = append(d.points, point{key: pc.Key, ga: g, dpt: t, attr: attr, report: r})
		}
		return nil
	}
	if err := add("attributes", c.Attributes, true); err != nil {
		return nil, err
	}
	if err := add("timeseries", c.Timeseries, false); err != nil {
		return nil, err
	}
	return d, nil
}

func compileName(doc *conf.Doc, path, source, expr, typePath, dataType string) (*nameExpr, error) {
	n := &nameExpr{text: expr}
	switch strings.ToLower(strings.TrimSpace(source)) {
	case "", "constant", "const":
		return n, nil
	case "expression":
	default:
		return nil, doc.Errorf(strings.Replace(path, "Expression", "ExpressionSource", 1), "must be expression or constant, not %q", source)
	}
	t, err := tmpl.Compile(expr)
	if err != nil {
		return nil, doc.Errorf(path, "%v", err)
	}
	if t.IsConst() {
		return n, nil
	}
	n.t = t
	for _, v := range t.Vars() {
		g, err := knx.ParseGroup(v)
		if err != nil {
			return nil, doc.Errorf(path, "placeholder ${%s}: %v", v, err)
		}
		n.gas = append(n.gas, g)
	}
	dt := dataType
	if dt == "" || strings.EqualFold(dt, "none") {
		dt = "string"
	}
	if n.dpt, err = knx.LookupDPT(dt); err != nil {
		return nil, doc.Errorf(typePath, "%v", err)
	}
	return n, nil
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
