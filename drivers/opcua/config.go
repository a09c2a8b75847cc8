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
	py          *pyMapping // the mapping's upstream-style (Python) converter, nil for the built-in one
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
