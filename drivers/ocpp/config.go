package ocpp

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// fileConfig is ocpp.json.
type fileConfig struct {
	Name                string                `json:"name"`
	ID                  string                `json:"id"`
	Type                string                `json:"type"`
	LogLevel            string                `json:"logLevel"`
	EnableRemoteLogging bool                  `json:"enableRemoteLogging"`
	ConfigVersion       string                `json:"configVersion"`
	ReportStrategy      *codec.StrategyConfig `json:"reportStrategy"`
	CentralSystem       centralSystem         `json:"centralSystem"`
	ChargePoints        []chargePoint         `json:"chargePoints"`
}

type centralSystem struct {
	Name       string     `json:"name"`
	Host       *string    `json:"host"`
	Port       *int       `json:"port"`
	Connection connection `json:"connection"`
	Security   []security `json:"security"`

	// tbgw additions.
	MaxConnections    *int     `json:"maxConnections"`    // default 1000
	MaxMessageSize    *int     `json:"maxMessageSize"`    // bytes, default 65536
	PingInterval      *float64 `json:"pingInterval"`      // s, default 30; 0 disables
	PongTimeout       *float64 `json:"pongTimeout"`       // s, default 10
	HeartbeatInterval *int     `json:"heartbeatInterval"` // s, BootNotification answer, default 300
	CallTimeout       *float64 `json:"callTimeout"`       // s, calls to a charge point, default 30
	Subprotocols      []string `json:"subprotocols"`      // default both
}

type connection struct {
	Type     string `json:"type"` // insecure | tls
	Cert     string `json:"cert"`
	Key      string `json:"key"`
	Password string `json:"password"`
	CA       string `json:"ca"` // tbgw: verify client certificates against it
}

type security struct {
	Type        string       `json:"type"` // token | basic
	Tokens      []string     `json:"tokens"`
	Credentials []credential `json:"credentials"`
}

type credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type chargePoint struct {
	IDRegexpPattern      string                `json:"idRegexpPattern"`
	Host                 string                `json:"host"`
	Port                 string                `json:"port"`
	DeviceNameExpression string                `json:"deviceNameExpression"`
	DeviceTypeExpression string                `json:"deviceTypeExpression"`
	Attributes           []datapoint           `json:"attributes"`
	Timeseries           []datapoint           `json:"timeseries"`
	AttributeUpdates     []attributeUpdate     `json:"attributeUpdates"`
	ServerSideRPC        []serverRPC           `json:"serverSideRpc"`
	ReportStrategy       *codec.StrategyConfig `json:"reportStrategy"`
	Extension            string                `json:"extension"`
}

type datapoint struct {
	MessageTypeFilter string                `json:"messageTypeFilter"`
	Type              string                `json:"type"`
	Key               string                `json:"key"`
	Value             string                `json:"value"`
	TSField           string                `json:"tsField"`
	ReportStrategy    *codec.StrategyConfig `json:"reportStrategy"`
}

type attributeUpdate struct {
	AttributeOnThingsBoard string `json:"attributeOnThingsBoard"`
	ValueExpression        string `json:"valueExpression"`
	VendorID               string `json:"vendorId"`  // tbgw: DataTransfer vendorId, default "1"
	MessageID              string `json:"messageId"` // tbgw: DataTransfer messageId
}

type serverRPC struct {
	MethodRPC       string `json:"methodRPC"`
	WithResponse    *bool  `json:"withResponse"`
	ValueExpression string `json:"valueExpression"`
	VendorID        string `json:"vendorId"`
	MessageID       string `json:"messageId"`
}

// plan is the validated configuration.
type plan struct {
	addr         string
	tls          *tls.Config
	tokens       []string
	basics       []string // "Basic <base64>" values
	secured      bool
	maxConns     int
	maxMsg       int64
	ping, pong   time.Duration
	heartbeat    int
	callTimeout  time.Duration
	subprotocols []string
	cps          []*cpPlan
	warnings     []string // logged when the connector is created
}

type cpPlan struct {
	index      int
	id         *pyre.Regex
	host, port *pyre.Regex
	name, typ  *convert.Name
	conv       map[string]*convert.JSON // by OCPP action
	custom     *customConv              // the entry's converter class; nil: conv
	attrUpd    []attrUpdPlan
	rpcs       map[string]rpcPlan
}

type attrUpdPlan struct {
	key       string
	value     *tmpl.Template
	vendorID  string
	messageID string
}

type rpcPlan struct {
	value        *tmpl.Template
	withResponse bool
	vendorID     string
	messageID    string
}

func compile(doc *conf.Doc, cfg *fileConfig, configDir string) (*plan, error) {
	cs := &cfg.CentralSystem
	p := &plan{maxConns: 1000, maxMsg: 65536, ping: 30 * time.Second, pong: 10 * time.Second,
		heartbeat: 300, callTimeout: 30 * time.Second, subprotocols: []string{"ocpp2.0.1", "ocpp1.6"}}
	host := "0.0.0.0"
	if cs.Host != nil {
		host = *cs.Host
	}
	port := 9000
	if cs.Port != nil {
		port = *cs.Port
		if port < 0 || port > 65535 {
			return nil, doc.Errorf("centralSystem.port", "must be 0..65535")
		}
	}
	p.addr = fmt.Sprintf("%s:%d", host, port)
	if strings.Contains(host, ":") {
		p.addr = fmt.Sprintf("[%s]:%d", host, port)
	}
	if cs.MaxConnections != nil {
		if *cs.MaxConnections < 1 {
			return nil, doc.Errorf("centralSystem.maxConnections", "must be at least 1")
		}
		p.maxConns = *cs.MaxConnections
	}
	if cs.MaxMessageSize != nil {
		if *cs.MaxMessageSize < 1024 {
			return nil, doc.Errorf("centralSystem.maxMessageSize", "must be at least 1024 bytes")
		}
		p.maxMsg = int64(*cs.MaxMessageSize)
	}
	secs := func(v *float64, key string, d *time.Duration, allowZero bool) error {
		if v == nil {
			return nil
		}
		if *v < 0 || (*v == 0 && !allowZero) {
			return doc.Errorf("centralSystem."+key, "must be positive")
		}
		*d = time.Duration(*v * float64(time.Second))
		return nil
	}
	if err := secs(cs.PingInterval, "pingInterval", &p.ping, true); err != nil {
		return nil, err
	}
	if err := secs(cs.PongTimeout, "pongTimeout", &p.pong, false); err != nil {
		return nil, err
	}
	if err := secs(cs.CallTimeout, "callTimeout", &p.callTimeout, false); err != nil {
		return nil, err
	}
	if cs.HeartbeatInterval != nil {
		if *cs.HeartbeatInterval < 1 {
			return nil, doc.Errorf("centralSystem.heartbeatInterval", "must be at least 1 second")
		}
		p.heartbeat = *cs.HeartbeatInterval
	}
	if cs.Subprotocols != nil {
		p.subprotocols = nil
		for i, s := range cs.Subprotocols {
			if s != "ocpp1.6" && s != "ocpp2.0.1" {
				return nil, doc.Errorf(fmt.Sprintf("centralSystem.subprotocols[%d]", i), "must be ocpp1.6 or ocpp2.0.1")
			}
			p.subprotocols = append(p.subprotocols, s)
		}
		if len(p.subprotocols) == 0 {
			return nil, doc.Errorf("centralSystem.subprotocols", "must not be empty")
		}
	}
	switch strings.ToLower(cs.Connection.Type) {
	case "", "insecure":
	case "tls":
		t, err := serverTLS(&cs.Connection, configDir)
		if err != nil {
			return nil, doc.Errorf("centralSystem.connection", "%v", err)
		}
		p.tls = t
	default:
		return nil, doc.Errorf("centralSystem.connection.type", "must be insecure or tls, not %q", cs.Connection.Type)
	}
	for i, s := range cs.Security {
		path := fmt.Sprintf("centralSystem.security[%d]", i)
		switch strings.ToLower(s.Type) {
		case "token":
			p.tokens = append(p.tokens, s.Tokens...)
		case "basic":
			for j, c := range s.Credentials {
				if c.Username == "" {
					return nil, doc.Errorf(fmt.Sprintf("%s.credentials[%d].username", path, j), "must not be empty")
				}
				p.basics = append(p.basics, basicHeader(c.Username, c.Password))
			}
		default:
			return nil, doc.Errorf(path+".type", "must be token or basic, not %q", s.Type)
		}
		p.secured = true
	}
	if len(cfg.ChargePoints) == 0 {
		return nil, doc.Errorf("chargePoints", "at least one charge point entry is required")
	}
	connReport, err := cfg.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf("reportStrategy", "%v", err)
	}
	for i := range cfg.ChargePoints {
		cp, err := compileCP(doc, &cfg.ChargePoints[i], i, connReport, &p.warnings)
		if err != nil {
			return nil, err
		}
		p.cps = append(p.cps, cp)
	}
	return p, nil
}

func compileCP(doc *conf.Doc, c *chargePoint, i int, connReport *codec.Strategy, warnings *[]string) (*cpPlan, error) {
	path := fmt.Sprintf("chargePoints[%d]", i)
	cp := &cpPlan{index: i, conv: map[string]*convert.JSON{}, rpcs: map[string]rpcPlan{}}
	var err error
	if c.IDRegexpPattern == "" {
		return nil, doc.Errorf(path+".idRegexpPattern", "required")
	}
	if cp.id, err = pyre.Compile(c.IDRegexpPattern); err != nil {
		return nil, doc.Errorf(path+".idRegexpPattern", "%v", err)
	}
	if c.Host != "" {
		if cp.host, err = pyre.Compile(c.Host); err != nil {
			return nil, doc.Errorf(path+".host", "%v", err)
		}
	}
	if c.Port != "" {
		if cp.port, err = pyre.Compile(c.Port); err != nil {
			return nil, doc.Errorf(path+".port", "%v", err)
		}
	}
	if c.Extension != "" && c.Extension != defaultConverter {
		cc, warn, err := customConverter(doc, path, c.Extension, i)
		if err != nil {
			return nil, err
		}
		if warn != "" {
			*warnings = append(*warnings, warn)
		}
		cp.custom = cc
	}
	nameExpr := c.DeviceNameExpression
	if nameExpr == "" {
		nameExpr = "${Vendor} ${Model}"
	}
	if cp.name, err = convert.CompileName(convert.FromMessage, nameExpr); err != nil {
		return nil, doc.Errorf(path+".deviceNameExpression", "%v", err)
	}
	typeExpr := c.DeviceTypeExpression
	if typeExpr == "" {
		typeExpr = "default"
	}
	if cp.typ, err = convert.CompileName(convert.FromMessage, typeExpr); err != nil {
		return nil, doc.Errorf(path+".deviceTypeExpression", "%v", err)
	}
	report := connReport
	if r, err := c.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	} else if r != nil {
		report = r
	}
	// One converter per OCPP action, holding the datapoints whose
	// messageTypeFilter names it.
	byAction := map[string]*convert.Config{}
	add := func(list string, dps []datapoint) error {
		for j, d := range dps {
			dpath := fmt.Sprintf("%s.%s[%d]", path, list, j)
			if d.Key == "" {
				return doc.Errorf(dpath+".key", "required")
			}
			if d.Value == "" {
				return doc.Errorf(dpath+".value", "required")
			}
			if _, err := tmpl.Compile(d.Value); err != nil {
				return doc.Errorf(dpath+".value", "%v", err)
			}
			if _, err := d.ReportStrategy.Strategy(); err != nil {
				return doc.Errorf(dpath+".reportStrategy", "%v", err)
			}
			n := 0
			for _, a := range strings.Split(d.MessageTypeFilter, ",") {
				a = strings.TrimSpace(a)
				if a == "" {
					continue
				}
				n++
				cc := byAction[a]
				if cc == nil {
					cc = &convert.Config{Type: "json", DeviceInfo: &convert.DeviceInfo{
						DeviceNameExpressionSource: "constant", DeviceNameExpression: "-",
						DeviceProfileExpressionSource: "constant", DeviceProfileExpression: "default"}}
					byAction[a] = cc
				}
				dp := convert.Datapoint{Type: d.Type, Key: d.Key, Value: d.Value, TSField: d.TSField, ReportStrategy: d.ReportStrategy}
				if list == "attributes" {
					cc.Attributes.List = append(cc.Attributes.List, dp)
				} else {
					cc.Timeseries.List = append(cc.Timeseries.List, dp)
				}
			}
			if n == 0 {
				return doc.Errorf(dpath+".messageTypeFilter", "must name at least one OCPP message type, e.g. \"MeterValues,\"")
			}
		}
		return nil
	}
	// A converter class reads attributes and timeseries itself.
	if cp.custom == nil {
		if err := add("attributes", c.Attributes); err != nil {
			return nil, err
		}
		if err := add("timeseries", c.Timeseries); err != nil {
			return nil, err
		}
	}
	for a, cc := range byAction {
		j, err := convert.NewJSON(cc, convert.Options{Report: report, Location: time.UTC})
		if err != nil {
			return nil, doc.Errorf(path, "message type %s: %v", a, err)
		}
		cp.conv[a] = j
	}
	for j, u := range c.AttributeUpdates {
		upath := fmt.Sprintf("%s.attributeUpdates[%d]", path, j)
		if u.AttributeOnThingsBoard == "" {
			return nil, doc.Errorf(upath+".attributeOnThingsBoard", "required")
		}
		t, err := tmpl.Compile(u.ValueExpression)
		if err != nil {
			return nil, doc.Errorf(upath+".valueExpression", "%v", err)
		}
		cp.attrUpd = append(cp.attrUpd, attrUpdPlan{key: u.AttributeOnThingsBoard, value: t,
			vendorID: def(u.VendorID, "1"), messageID: u.MessageID})
	}
	for j, r := range c.ServerSideRPC {
		rpath := fmt.Sprintf("%s.serverSideRpc[%d]", path, j)
		if r.MethodRPC == "" {
			return nil, doc.Errorf(rpath+".methodRPC", "required")
		}
		t, err := tmpl.Compile(r.ValueExpression)
		if err != nil {
			return nil, doc.Errorf(rpath+".valueExpression", "%v", err)
		}
		if _, dup := cp.rpcs[r.MethodRPC]; dup {
			return nil, doc.Errorf(rpath+".methodRPC", "method %q configured twice", r.MethodRPC)
		}
		cp.rpcs[r.MethodRPC] = rpcPlan{value: t, withResponse: r.WithResponse == nil || *r.WithResponse,
			vendorID: def(r.VendorID, "1"), messageID: r.MessageID}
	}
	return cp, nil
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// serverTLS loads the central system's certificate. A configured TLS
// connection that cannot be set up is an error (upstream falls back to
// plain WebSocket).
func serverTLS(c *connection, dir string) (*tls.Config, error) {
	if c.Cert == "" || c.Key == "" {
		return nil, fmt.Errorf("type tls needs cert and key")
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	certPEM, err := os.ReadFile(abs(c.Cert))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(abs(c.Key))
	if err != nil {
		return nil, err
	}
	if c.Password != "" {
		keyPEM, err = decryptKey(keyPEM, c.Password)
		if err != nil {
			return nil, err
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cert/key: %v", err)
	}
	t := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		ca, err := os.ReadFile(abs(c.CA))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("ca %s: no certificate found", c.CA)
		}
		t.ClientCAs = pool
		t.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return t, nil
}

// decryptKey decrypts a legacy (RFC 1423) encrypted PEM private key.
func decryptKey(keyPEM []byte, password string) ([]byte, error) {
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, fmt.Errorf("key: no PEM block")
	}
	//lint:ignore SA1019 legacy encrypted PEM keys are what users have
	if !x509.IsEncryptedPEMBlock(blk) { //nolint:staticcheck
		return keyPEM, nil
	}
	der, err := x509.DecryptPEMBlock(blk, []byte(password)) //nolint:staticcheck
	if err != nil {
		return nil, fmt.Errorf("key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: der}), nil
}
