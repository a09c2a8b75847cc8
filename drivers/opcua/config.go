package opcua

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

// fileConfig is the connector file (upstream opcua.json). Keys of the
// legacy format (server.mapping, deviceNamePattern, path, ...) are decoded
// too and converted by normalize.
type fileConfig struct {
	Server  serverConfig    `json:"server"`
	Mapping []mappingConfig `json:"mapping"`
}

type serverConfig struct {
	Name                          string          `json:"name"`
	URL                           string          `json:"url"`
	TimeoutInMillis               *float64        `json:"timeoutInMillis"`
	ScanPeriodInMillis            *float64        `json:"scanPeriodInMillis"`
	PollPeriodInMillis            *float64        `json:"pollPeriodInMillis"`
	EnableSubscriptions           *bool           `json:"enableSubscriptions"`
	DisableSubscriptions          *bool           `json:"disableSubscriptions"` // legacy
	SubCheckPeriodInMillis        *float64        `json:"subCheckPeriodInMillis"`
	SubDataMaxBatchSize           *float64        `json:"subDataMaxBatchSize"`
	SubDataMinBatchCreationTimeMs *float64        `json:"subDataMinBatchCreationTimeMs"`
	SubscriptionProcessBatchSize  *float64        `json:"subscriptionProcessBatchSize"`
	SubKeepAlivePeriodInSeconds   *float64        `json:"subKeepAlivePeriodInSeconds"`
	SessionTimeoutInMillis        *float64        `json:"sessionTimeoutInMillis"`
	ReconnectRetriesCount         *float64        `json:"reconnectRetriesCount"`
	ReconnectBackoffInitialDelay  *float64        `json:"reconnectBackoffInitialDelay"` // seconds
	ReconnectBackoffFactor        *float64        `json:"reconnectBackoffFactor"`
	ShowMap                       bool            `json:"showMap"`
	URI                           string          `json:"uri"`
	Security                      string          `json:"security"`
	Identity                      identityConfig  `json:"identity"`
	Mapping                       []mappingConfig `json:"mapping"` // legacy
}

type identityConfig struct {
	Type       string `json:"type"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	CACert     string `json:"caCert"`
	Cert       string `json:"cert"`
	PrivateKey string `json:"privateKey"`
	Mode       string `json:"mode"`
	// Legacy names of the certificate files.
	PathToCACert     string `json:"pathToCACert"`
	PathToClientCert string `json:"pathToClientCert"`
	PathToPrivateKey string `json:"pathToPrivateKey"`
}

type mappingConfig struct {
	DeviceNodeSource  string                `json:"deviceNodeSource"`
	DeviceNodePattern string                `json:"deviceNodePattern"`
	DeviceInfo        *deviceInfoConfig     `json:"deviceInfo"`
	ReportStrategy    *codec.StrategyConfig `json:"reportStrategy"`
	Converter         json.RawMessage       `json:"converter"`
	Attributes        []pointConfig         `json:"attributes"`
	Timeseries        []pointConfig         `json:"timeseries"`
	AttributesUpdates []attrUpdateConfig    `json:"attributes_updates"`
	RPCMethods        []rpcMethodConfig     `json:"rpc_methods"`
	// Legacy.
	DeviceNamePattern string `json:"deviceNamePattern"`
	DeviceTypePattern string `json:"deviceTypePattern"`
}

type deviceInfoConfig struct {
	DeviceNameExpression          string `json:"deviceNameExpression"`
	DeviceNameExpressionSource    string `json:"deviceNameExpressionSource"`
	DeviceProfileExpression       string `json:"deviceProfileExpression"`
	DeviceProfileExpressionSource string `json:"deviceProfileExpressionSource"`
}

type pointConfig struct {
	Key               string                `json:"key"`
	Type              string                `json:"type"`
	Value             string                `json:"value"`
	TimestampLocation string                `json:"timestampLocation"`
	ReportStrategy    *codec.StrategyConfig `json:"reportStrategy"`
	Path              string                `json:"path"` // legacy
}

type attrUpdateConfig struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value string `json:"value"`
	// Legacy.
	AttributeOnThingsBoard string `json:"attributeOnThingsBoard"`
	AttributeOnDevice      string `json:"attributeOnDevice"`
}

type rpcMethodConfig struct {
	Method    string          `json:"method"`
	Arguments json.RawMessage `json:"arguments"`
}

// Security policy names accepted in server.security.
var policies = map[string]string{
	"none":                  "None",
	"basic128rsa15":         "Basic128Rsa15",
	"basic256":              "Basic256",
	"basic256sha256":        "Basic256Sha256",
	"aes128_sha256_rsaoaep": "Aes128_Sha256_RsaOaep",
	"aes256_sha256_rsapss":  "Aes256_Sha256_RsaPss",
}

const policyURIPrefix = "http://opcfoundation.org/UA/SecurityPolicy#"

// settings is the validated, defaulted configuration the connector runs on.
type settings struct {
	url             string
	timeout         time.Duration
	scanPeriod      time.Duration
	pollPeriod      time.Duration
	subscriptions   bool
	publishInterval time.Duration
	maxBatch        int
	minBatchTime    time.Duration
	subBatch        int
	watchdog        time.Duration // 0: none
	sessionTimeout  time.Duration
	retries         int
	backoffInitial  time.Duration
	backoffFactor   float64
	showMap         bool
	appURI          string

	// Security.
	policy   string // short name, "None" when mode is None
	mode     string // None, Sign, SignAndEncrypt
	identity string // anonymous, username, certificates
	username string
	password string
	certDER  []byte          // configured application certificate
	key      *rsa.PrivateKey // its key
	caDER    [][]byte        // server certificate or its CA, to verify

	mappings []*mapping
}

// mapping is one compiled mapping entry.
type mapping struct {
	index       int
	pattern     ref // device node: node id or absolute path
	nameExpr    string
	profileExpr string
	report      *codec.Strategy
	points      []*pointSpec
	updates     map[string]ref // attributes_updates key -> node
	updateKeys  []string
	methods     map[string]*methodSpec
}

type tsLocation uint8

const (
	tsGateway tsLocation = iota
	tsSource
	tsServer
)

type pointSpec struct {
	key    string
	attr   bool
	ref    ref
	ts     tsLocation
	report *codec.Strategy
}

type methodSpec struct {
	name string
	args []argSpec // configured arguments
}

type argSpec struct {
	typ   string
	value any // nil when not configured
}

// parseConfig decodes and validates a connector file.
func parseConfig(file string, raw []byte, env connector.Env) (*settings, error) {
	doc, err := conf.Parse(file, raw)
	if err != nil {
		return nil, err
	}
	var fc fileConfig
	warns, err := doc.Decode(&fc)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		env.Log.Warn(w.Error())
	}
	return compile(doc, &fc, env)
}

func ms(v *float64, def float64) time.Duration {
	if v == nil {
		return time.Duration(def * float64(time.Millisecond))
	}
	return time.Duration(*v * float64(time.Millisecond))
}

func num(v *float64, def float64) float64 {
	if v == nil {
		return def
	}
	return *v
}

func compile(doc *conf.Doc, fc *fileConfig, env connector.Env) (*settings, error) {
	sc := &fc.Server
	s := &settings{}
	if strings.TrimSpace(sc.URL) == "" {
		return nil, doc.Errorf("server.url", "required")
	}
	s.url = strings.TrimSpace(sc.URL)
	if !strings.Contains(s.url, "://") {
		s.url = "opc.tcp://" + s.url
	}
	if !strings.HasPrefix(s.url, "opc.tcp://") {
		return nil, doc.Errorf("server.url", "only opc.tcp:// is supported, got %q", sc.URL)
	}
	positive := func(path string, v *float64) error {
		if v != nil && *v <= 0 {
			return doc.Errorf(path, "must be positive, got %v", *v)
		}
		return nil
	}
	for _, c := range []struct {
		path string
		v    *float64
	}{
		{"server.timeoutInMillis", sc.TimeoutInMillis},
		{"server.scanPeriodInMillis", sc.ScanPeriodInMillis},
		{"server.pollPeriodInMillis", sc.PollPeriodInMillis},
		{"server.subCheckPeriodInMillis", sc.SubCheckPeriodInMillis},
		{"server.subDataMaxBatchSize", sc.SubDataMaxBatchSize},
		{"server.subDataMinBatchCreationTimeMs", sc.SubDataMinBatchCreationTimeMs},
		{"server.subscriptionProcessBatchSize", sc.SubscriptionProcessBatchSize},
		{"server.sessionTimeoutInMillis", sc.SessionTimeoutInMillis},
		{"server.reconnectBackoffInitialDelay", sc.ReconnectBackoffInitialDelay},
	} {
		if err := positive(c.path, c.v); err != nil {
			return nil, err
		}
	}
	if sc.ReconnectBackoffFactor != nil && *sc.ReconnectBackoffFactor < 1 {
		return nil, doc.Errorf("server.reconnectBackoffFactor", "must be at least 1, got %v", *sc.ReconnectBackoffFactor)
	}
	if sc.ReconnectRetriesCount != nil && *sc.ReconnectRetriesCount < 0 {
		return nil, doc.Errorf("server.reconnectRetriesCount", "must not be negative")
	}
	if sc.SubKeepAlivePeriodInSeconds != nil && *sc.SubKeepAlivePeriodInSeconds < 0 {
		return nil, doc.Errorf("server.subKeepAlivePeriodInSeconds", "must not be negative")
	}
	s.timeout = ms(sc.TimeoutInMillis, 4000)
	s.scanPeriod = ms(sc.ScanPeriodInMillis, 3600000)
	s.pollPeriod = ms(sc.PollPeriodInMillis, 5000)
	s.subscriptions = true
	if sc.DisableSubscriptions != nil {
		s.subscriptions = !*sc.DisableSubscriptions
	}
	if sc.EnableSubscriptions != nil {
		s.subscriptions = *sc.EnableSubscriptions
	}
	s.publishInterval = max(ms(sc.SubCheckPeriodInMillis, 100), 100*time.Millisecond)
	s.maxBatch = int(num(sc.SubDataMaxBatchSize, 1000))
	s.minBatchTime = max(ms(sc.SubDataMinBatchCreationTimeMs, 200), 100*time.Millisecond)
	s.subBatch = int(num(sc.SubscriptionProcessBatchSize, 2000))
	s.watchdog = time.Duration(num(sc.SubKeepAlivePeriodInSeconds, 0) * float64(time.Second))
	s.sessionTimeout = ms(sc.SessionTimeoutInMillis, 120000)
	s.retries = int(num(sc.ReconnectRetriesCount, 8))
	s.backoffInitial = time.Duration(num(sc.ReconnectBackoffInitialDelay, 1) * float64(time.Second))
	s.backoffFactor = num(sc.ReconnectBackoffFactor, 2)
	s.showMap = sc.ShowMap
	s.appURI = strings.TrimSpace(sc.URI)

	if err := compileSecurity(doc, sc, env, s); err != nil {
		return nil, err
	}

	maps, base := fc.Mapping, "mapping"
	if len(maps) == 0 && len(sc.Mapping) > 0 {
		maps, base = sc.Mapping, "server.mapping"
	} else if len(sc.Mapping) > 0 {
		env.Log.Warn(doc.Pos("server.mapping") + ": server.mapping: ignored, the file has a top-level mapping")
	}
	for i := range maps {
		m, err := compileMapping(doc, fmt.Sprintf("%s[%d]", base, i), i, &maps[i], env)
		if err != nil {
			return nil, err
		}
		s.mappings = append(s.mappings, m)
	}
	if len(s.mappings) == 0 {
		env.Log.Warn(doc.File + ": no mapping configured, the connector will only serve connector RPCs")
	}
	return s, nil
}

func compileSecurity(doc *conf.Doc, sc *serverConfig, env connector.Env, s *settings) error {
	id := &sc.Identity
	switch strings.ToLower(id.Type) {
	case "", "anonymous":
		s.identity = "anonymous"
	case "username", "basic":
		s.identity = "username"
	case "certificates", "cert.pem", "certificate":
		s.identity = "certificates"
	default:
		return doc.Errorf("server.identity.type", "unknown identity type %q (want anonymous, username or certificates)", id.Type)
	}
	if id.Username != "" && s.identity == "anonymous" {
		s.identity = "username" // upstream: a username means username identity
	}
	if s.identity == "username" {
		if id.Username == "" {
			return doc.Errorf("server.identity.username", "required for username identity")
		}
		s.username, s.password = id.Username, id.Password
	}

	switch strings.ToLower(id.Mode) {
	case "":
		s.mode = "None"
		if s.identity == "certificates" {
			s.mode = "SignAndEncrypt"
		}
	case "none":
		s.mode = "None"
	case "sign":
		s.mode = "Sign"
	case "signandencrypt":
		s.mode = "SignAndEncrypt"
	default:
		return doc.Errorf("server.identity.mode", "unknown security mode %q (want None, Sign or SignAndEncrypt)", id.Mode)
	}

	policy := "Basic256Sha256"
	if sec := strings.TrimSpace(sc.Security); sec != "" {
		p, ok := policies[strings.ToLower(strings.TrimPrefix(sec, policyURIPrefix))]
		if !ok {
			return doc.Errorf("server.security", "unknown security policy %q (want None, Basic128Rsa15, Basic256, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss)", sc.Security)
		}
		policy = p
	}
	switch {
	case s.mode == "None":
		s.policy = "None"
	case policy == "None":
		return doc.Errorf("server.security", "policy None cannot be used with security mode %s", s.mode)
	default:
		s.policy = policy
	}

	cert := firstNonEmpty(id.Cert, id.PathToClientCert)
	key := firstNonEmpty(id.PrivateKey, id.PathToPrivateKey)
	ca := firstNonEmpty(id.CACert, id.PathToCACert)
	if s.identity == "certificates" && (cert == "") != (key == "") {
		return doc.Errorf("server.identity", "cert and privateKey must be given together")
	}
	if s.identity != "certificates" && (cert != "" || key != "") {
		env.Log.Warn(doc.Pos("server.identity") + ": server.identity: cert/privateKey ignored for identity type " + s.identity)
		cert, key = "", ""
	}
	if cert != "" {
		der, err := loadCertFile(resolvePath(env.ConfigDir, cert))
		if err != nil {
			return doc.Errorf("server.identity.cert", "%v", err)
		}
		k, err := loadKeyFile(resolvePath(env.ConfigDir, key))
		if err != nil {
			return doc.Errorf("server.identity.privateKey", "%v", err)
		}
		if err := checkKeyPair(der, k); err != nil {
			return doc.Errorf("server.identity", "%v", err)
		}
		s.certDER, s.key = der, k
	}
	if ca != "" {
		ders, err := loadCertChain(resolvePath(env.ConfigDir, ca))
		if err != nil {
			return doc.Errorf("server.identity.caCert", "%v", err)
		}
		s.caDER = ders
	}
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// resolvePath resolves a relative file name against the configuration
// directory, falling back to the name as given when it is not there.
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	if q := filepath.Join(dir, p); fileExists(q) {
		return q
	}
	return p
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func compileMapping(doc *conf.Doc, path string, index int, mc *mappingConfig, env connector.Env) (*mapping, error) {
	m := &mapping{index: index, updates: map[string]ref{}, methods: map[string]*methodSpec{}}
	if strings.TrimSpace(mc.DeviceNodePattern) == "" {
		return nil, doc.Errorf(path+".deviceNodePattern", "required")
	}
	switch strings.ToLower(mc.DeviceNodeSource) {
	case "", "path", "identifier":
	default:
		return nil, doc.Errorf(path+".deviceNodeSource", "unknown source %q (want path or identifier)", mc.DeviceNodeSource)
	}
	pat, err := parseDeviceNode(mc.DeviceNodePattern)
	if err != nil {
		return nil, doc.Errorf(path+".deviceNodePattern", "%v", err)
	}
	m.pattern = pat

	// Device name and profile: new deviceInfo block or legacy patterns.
	if mc.DeviceInfo != nil {
		di := mc.DeviceInfo
		for _, c := range []struct{ key, v string }{
			{".deviceInfo.deviceNameExpressionSource", di.DeviceNameExpressionSource},
			{".deviceInfo.deviceProfileExpressionSource", di.DeviceProfileExpressionSource},
		} {
			switch strings.ToLower(c.v) {
			case "", "constant", "path", "identifier", "expression":
			default:
				return nil, doc.Errorf(path+c.key, "unknown source %q (want constant, path or identifier)", c.v)
			}
		}
		m.nameExpr, m.profileExpr = di.DeviceNameExpression, di.DeviceProfileExpression
	} else {
		m.nameExpr, m.profileExpr = mc.DeviceNamePattern, mc.DeviceTypePattern
	}
	if strings.TrimSpace(m.nameExpr) == "" {
		return nil, doc.Errorf(path+".deviceInfo.deviceNameExpression", "required")
	}
	if strings.TrimSpace(m.profileExpr) == "" {
		m.profileExpr = "default"
	}
	if len(mc.Converter) > 0 && string(mc.Converter) != "null" && string(mc.Converter) != `""` {
		env.Log.Warn(doc.Pos(path+".converter") + ": " + path + ".converter: custom Python converters are not supported; the built-in conversion is used")
	}
	if m.report, err = mc.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}

	for _, sec := range []struct {
		name string
		list []pointConfig
		attr bool
	}{{"attributes", mc.Attributes, true}, {"timeseries", mc.Timeseries, false}} {
		for i := range sec.list {
			pc := &sec.list[i]
			pp := fmt.Sprintf("%s.%s[%d]", path, sec.name, i)
			p, err := compilePoint(doc, pp, pc, sec.attr)
			if err != nil {
				return nil, err
			}
			m.points = append(m.points, p)
		}
	}

	for i, u := range mc.AttributesUpdates {
		up := fmt.Sprintf("%s.attributes_updates[%d]", path, i)
		key, val := u.Key, u.Value
		if key == "" {
			key = u.AttributeOnThingsBoard
		}
		if val == "" {
			val = u.AttributeOnDevice
		}
		if key == "" {
			return nil, doc.Errorf(up+".key", "required")
		}
		switch strings.ToLower(u.Type) {
		case "", "path", "identifier":
		default:
			return nil, doc.Errorf(up+".type", "unknown type %q (want path or identifier)", u.Type)
		}
		r, err := parseTarget(val)
		if err != nil {
			return nil, doc.Errorf(up+".value", "%v", err)
		}
		if _, dup := m.updates[key]; !dup {
			m.updateKeys = append(m.updateKeys, key)
		}
		m.updates[key] = r
	}

	for i, r := range mc.RPCMethods {
		rp := fmt.Sprintf("%s.rpc_methods[%d]", path, i)
		if strings.TrimSpace(r.Method) == "" {
			return nil, doc.Errorf(rp+".method", "required")
		}
		spec := &methodSpec{name: r.Method}
		if len(r.Arguments) > 0 && string(r.Arguments) != "null" {
			var raw []json.RawMessage
			if err := json.Unmarshal(r.Arguments, &raw); err != nil {
				return nil, doc.Errorf(rp+".arguments", "must be an array")
			}
			for _, a := range raw {
				var obj struct {
					Type  string          `json:"type"`
					Value json.RawMessage `json:"value"`
				}
				if len(a) > 0 && a[0] == '{' && json.Unmarshal(a, &obj) == nil {
					spec.args = append(spec.args, argSpec{typ: obj.Type, value: decodeJSONValue(obj.Value)})
					continue
				}
				// Legacy: a plain value.
				spec.args = append(spec.args, argSpec{value: decodeJSONValue(a)})
			}
		}
		m.methods[r.Method] = spec
	}
	return m, nil
}

func compilePoint(doc *conf.Doc, path string, pc *pointConfig, attr bool) (*pointSpec, error) {
	if strings.TrimSpace(pc.Key) == "" {
		return nil, doc.Errorf(path+".key", "required")
	}
	val := pc.Value
	if val == "" && pc.Path != "" {
		val = pc.Path // legacy
	}
	p := &pointSpec{key: pc.Key, attr: attr}
	switch strings.ToLower(pc.TimestampLocation) {
	case "", "gateway":
	case "sourcetimestamp", "source":
		p.ts = tsSource
	case "servertimestamp", "server":
		p.ts = tsServer
	default:
		return nil, doc.Errorf(path+".timestampLocation", "unknown location %q (want gateway, sourceTimestamp or serverTimestamp)", pc.TimestampLocation)
	}
	typ := strings.ToLower(pc.Type)
	switch typ {
	case "", "path", "identifier":
		r, err := parseValueRef(val)
		if err != nil {
			return nil, doc.Errorf(path+".value", "%v", err)
		}
		if r.kind == refConstant && typ != "" {
			return nil, doc.Errorf(path+".value", "%q is not a ${path} or a node id", val)
		}
		p.ref = r
	case "constant":
		p.ref = ref{kind: refConstant, text: val}
	default:
		return nil, doc.Errorf(path+".type", "unknown type %q (want path, identifier or constant)", pc.Type)
	}
	var err error
	if p.report, err = pc.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	return p, nil
}

// decodeJSONValue decodes a JSON value keeping integers as int64 when they
// fit; nil for absent or null.
func decodeJSONValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	return normNumber(v)
}

func normNumber(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normNumber(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normNumber(x[k])
		}
	}
	return v
}
