// Package config loads a tbgw configuration directory: tb_gateway.json (or
// .yaml), the TB_GW_* environment overrides, logs.json, the device filter
// file and every connector file of the connectors list.
//
// Problems are reported the way package codec/conf reports them: bad values
// of known keys are errors naming file, line:column and key path; unknown
// keys are warnings. Connector files are only checked for syntax and the
// keys every connector shares here; their own keys are checked by the
// connector's factory (see gw.Check).
package config

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/storage"
)

// MainFile is the name of the main configuration file.
const MainFile = "tb_gateway.json"

// Config is a loaded configuration directory.
type Config struct {
	Dir         string
	Path        string // the main file that was read
	ThingsBoard ThingsBoard
	Storage     storage.Config
	Connectors  []Connector
	LogLevels   map[string]slog.Level // logs.json logger name -> level
	Filter      *Filter               // nil when device filtering is off
	// Renaming says whether ThingsBoard's device rename notifications are
	// honoured (handleDeviceRenaming at either level; default true).
	Renaming bool
	// Strict ($TB_GW_STRICT_CONFIG=1): connectors refuse a configuration
	// with an unusable entry instead of skipping it with a warning.
	Strict bool
	// Env names the environment variables that overrode the thingsboard
	// section (TB_GW_* or upstream's unprefixed names), for the start-up log.
	Env      []string
	Warnings []error
}

// Connector is one entry of the connectors list with its file.
type Connector struct {
	Type     string
	Name     string
	ID       string
	Path     string // absolute path of the connector file
	File     string // file name as written in the list
	Raw      []byte // the connector file as read
	Class    string
	LogLevel slog.Level
	Remote   bool            // enableRemoteLogging
	Report   *ReportStrategy // connector-level report strategy, nil if none
	Sum      [32]byte        // of Raw and the list entry, to detect changes
}

// Load reads the configuration in dir. getenv supplies the environment
// (os.Getenv in production). It returns the config with warnings, or an
// error joining every problem found.
func Load(dir string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := &Config{Dir: dir, LogLevels: map[string]slog.Level{}}
	switch strings.ToLower(strings.TrimSpace(getenv("TB_GW_STRICT_CONFIG"))) {
	case "1", "true", "yes", "on":
		c.Strict = true
	}
	path, src, err := readMain(dir)
	if err != nil {
		return nil, err
	}
	c.Path = path
	name := filepath.Base(path)
	if filepath.Ext(path) != ".json" {
		// Positions refer to the YAML file converted to JSON.
		name += " (converted to JSON)"
	}
	doc, err := conf.Parse(name, src)
	if err != nil {
		return nil, err
	}
	var f File
	warns, err := doc.Decode(&f)
	if err != nil {
		return nil, err
	}
	c.Warnings = append(c.Warnings, warns...)
	var errs []error
	if !doc.Has("thingsboard") {
		errs = append(errs, doc.Errorf("thingsboard", "required section missing"))
	}
	c.ThingsBoard = f.ThingsBoard
	c.Env = applyEnv(&c.ThingsBoard, getenv)
	errs = append(errs, validateTB(doc, &c.ThingsBoard)...)
	applyDefaults(&c.ThingsBoard)
	c.Storage = f.Storage
	if err := f.Storage.Validate(); err != nil {
		errs = append(errs, doc.Errorf("storage", "%v", err))
	}
	c.Renaming = true
	if f.HandleDeviceRenaming != nil {
		c.Renaming = *f.HandleDeviceRenaming
	} else if f.ThingsBoard.HandleDeviceRenaming != nil {
		c.Renaming = *f.ThingsBoard.HandleDeviceRenaming
	}
	if len(f.GRPC) > 0 {
		var g struct {
			Enabled bool `json:"enabled"`
		}
		if json.Unmarshal(f.GRPC, &g) == nil && g.Enabled {
			c.Warnings = append(c.Warnings, doc.Errorf("grpc.enabled", "gRPC connectors are not supported by tbgw; section ignored"))
		}
	}

	seen := map[string]bool{}
	for i, e := range f.Connectors {
		p := fmt.Sprintf("connectors[%d]", i)
		cn, err := loadConnector(dir, doc, p, e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[cn.Name] {
			errs = append(errs, doc.Errorf(p+".name", "duplicate connector name %q", cn.Name))
			continue
		}
		seen[cn.Name] = true
		c.Connectors = append(c.Connectors, cn)
	}

	if lv, warns, err := loadLogs(dir); err != nil {
		errs = append(errs, err)
	} else {
		c.LogLevels = lv
		c.Warnings = append(c.Warnings, warns...)
	}
	if c.ThingsBoard.DeviceFiltering.Enable {
		flt, err := LoadFilter(resolve(dir, c.ThingsBoard.DeviceFiltering.FilterFile))
		if err != nil {
			errs = append(errs, err)
		} else {
			c.Filter = flt
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// readMain reads tb_gateway.json, or tb_gateway.yaml converted to JSON.
func readMain(dir string) (string, []byte, error) {
	path := filepath.Join(dir, MainFile)
	src, err := os.ReadFile(path)
	if err == nil {
		return path, src, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("config: %w", err)
	}
	for _, name := range []string{"tb_gateway.yaml", "tb_gateway.yml"} {
		ypath := filepath.Join(dir, name)
		ysrc, yerr := os.ReadFile(ypath)
		if yerr != nil {
			continue
		}
		var v any
		if err := yaml.Unmarshal(ysrc, &v); err != nil {
			return "", nil, fmt.Errorf("%s: %w", name, err)
		}
		js, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", name, err)
		}
		return ypath, js, nil
	}
	return "", nil, fmt.Errorf("config: %w", err)
}

func resolve(dir, name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func loadConnector(dir string, doc *conf.Doc, p string, e ConnectorEntry) (Connector, error) {
	var errs []error
	if e.Type == "" {
		errs = append(errs, doc.Errorf(p+".type", "required"))
	}
	if e.Name == "" {
		errs = append(errs, doc.Errorf(p+".name", "required"))
	}
	if e.Configuration == "" && len(e.Raw) == 0 {
		errs = append(errs, doc.Errorf(p+".configuration", "required"))
	}
	if e.UseGRPCForce {
		errs = append(errs, doc.Errorf(p+".useGRPCForce", "gRPC connectors are not supported by tbgw"))
	}
	if len(errs) > 0 {
		return Connector{}, errors.Join(errs...)
	}
	cn := Connector{Type: e.Type, Name: e.Name, File: e.Configuration, Class: e.Class, LogLevel: slog.LevelInfo}
	if e.Configuration != "" {
		cn.Path = resolve(dir, e.Configuration)
		raw, err := os.ReadFile(cn.Path)
		if err != nil {
			return Connector{}, doc.Errorf(p+".configuration", "%v", err)
		}
		cn.Raw = raw
	} else {
		cn.Raw = e.Raw
		cn.Path = e.Name + ".json"
	}
	cdoc, err := conf.Parse(filepath.Base(cn.Path), cn.Raw)
	if err != nil {
		return Connector{}, err
	}
	var com connectorCommon
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(cn.Raw, &probe); err != nil {
		return Connector{}, cdoc.Errorf("", "a connector configuration must be a JSON object")
	}
	if err := json.Unmarshal(cn.Raw, &com); err != nil {
		// Report with positions.
		var one struct {
			connectorCommon
		}
		if _, derr := cdoc.Decode(&one); derr != nil {
			return Connector{}, derr
		}
		return Connector{}, fmt.Errorf("%s: %w", cn.Path, err)
	}
	cn.ID = com.ID
	if cn.ID == "" {
		cn.ID = e.ID
	}
	if cn.ID == "" {
		cn.ID = stableID(e.Name)
	}
	level := com.LogLevel
	if level == "" {
		level = e.LogLevel
	}
	if level != "" {
		lv, ok := ParseLevel(level)
		if !ok {
			return Connector{}, cdoc.Errorf("logLevel", "unknown log level %q (want TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL or NONE)", level)
		}
		cn.LogLevel = lv
	}
	cn.Remote = com.EnableRemoteLogging
	if com.ReportStrategy != nil {
		if err := validateStrategy(cdoc, "reportStrategy", com.ReportStrategy); err != nil {
			return Connector{}, err
		}
		cn.Report = com.ReportStrategy
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", e.Type, e.Name, e.Class, e.Configuration)
	h.Write(cn.Raw)
	copy(cn.Sum[:], h.Sum(nil))
	return cn, nil
}

// stableID derives a UUID-shaped id from a connector name, so it stays the
// same across restarts without writing into the user's file.
func stableID(name string) string {
	s := sha256.Sum256([]byte("tbgw-connector:" + name))
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

func validateStrategy(doc *conf.Doc, path string, rs *ReportStrategy) error {
	if rs.Type != "" && !ValidReportType(rs.Type) {
		return doc.Errorf(path+".type", "unknown report strategy %q (want one of %s)", rs.Type, strings.Join(ReportTypes, ", "))
	}
	if rs.ReportPeriod != nil && *rs.ReportPeriod < 0 {
		return doc.Errorf(path+".reportPeriod", "must not be negative")
	}
	if rs.TTL != nil && *rs.TTL < 0 {
		return doc.Errorf(path+".ttl", "must not be negative")
	}
	switch strings.ToUpper(rs.AggregationFunction) {
	case "", "NONE", "SUM", "COUNT", "MIN", "MAX", "AVERAGE":
	default:
		return doc.Errorf(path+".aggregationFunction", "unknown aggregation function %q", rs.AggregationFunction)
	}
	return nil
}

func validateTB(doc *conf.Doc, tb *ThingsBoard) []error {
	var errs []error
	if doc.Has("thingsboard") && tb.Host == "" {
		errs = append(errs, doc.Errorf("thingsboard.host", "required"))
	}
	if tb.Port < 0 || tb.Port > 65535 {
		errs = append(errs, doc.Errorf("thingsboard.port", "port %d out of range", tb.Port))
	}
	if tb.QoS != nil && (*tb.QoS < 0 || *tb.QoS > 1) {
		errs = append(errs, doc.Errorf("thingsboard.qos", "must be 0 or 1"))
	}
	if s := tb.Security; s != nil {
		switch s.Type {
		case "", "accessToken", "tlsAccessToken", "usernamePassword", "x509", "x509Certificate", "tlsX509", "certificates", "X509_CERTIFICATE":
		default:
			errs = append(errs, doc.Errorf("thingsboard.security.type", "unknown security type %q (want accessToken, tlsAccessToken, usernamePassword or x509Certificate)", s.Type))
		}
		switch {
		case s.Type == "usernamePassword" && s.Username == "" && s.ClientID == "":
			errs = append(errs, doc.Errorf("thingsboard.security.username", "required for usernamePassword (or clientId)"))
		case (s.Type == "accessToken" || s.Type == "tlsAccessToken") && s.AccessToken == "":
			errs = append(errs, doc.Errorf("thingsboard.security.accessToken", "required"))
		case strings.Contains(strings.ToLower(s.Type), "x509") || s.Type == "certificates":
			if s.Cert == "" || s.PrivateKey == "" {
				errs = append(errs, doc.Errorf("thingsboard.security", "cert and privateKey are required for an X.509 client certificate"))
			}
		}
	}
	if rs := tb.ReportStrategy; rs != nil {
		if err := validateStrategy(doc, "thingsboard.reportStrategy", rs); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range []struct{ path, v string }{
		{"rateLimits", tb.RateLimits}, {"dpRateLimits", tb.DPRateLimits}, {"messagesRateLimits", tb.MessagesRateLimits},
		{"deviceMessagesRateLimits", tb.DeviceMessagesRateLimits}, {"deviceRateLimits", tb.DeviceRateLimits}, {"deviceDpRateLimits", tb.DeviceDPRateLimits},
	} {
		if err := checkRateLimit(k.v); err != nil {
			errs = append(errs, doc.Errorf("thingsboard."+k.path, "%v", err))
		}
	}
	return errs
}

// checkRateLimit validates "limit:seconds,limit:seconds" or a DEFAULT_* token.
func checkRateLimit(s string) error {
	if s == "" || strings.HasPrefix(s, "DEFAULT_") {
		return nil
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		a, b, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return fmt.Errorf("bad rate limit %q: want limit:seconds pairs", part)
		}
		if _, err := strconv.Atoi(a); err != nil {
			return fmt.Errorf("bad rate limit %q: %v", part, err)
		}
		if _, err := strconv.Atoi(b); err != nil {
			return fmt.Errorf("bad rate limit %q: %v", part, err)
		}
	}
	return nil
}

// applyDefaults fills the code defaults of tb-gateway 3.1.
func applyDefaults(tb *ThingsBoard) {
	if tb.Port == 0 {
		tb.Port = 1883
	}
	if tb.KeepAlive == 0 {
		tb.KeepAlive = 120
	}
	if tb.QoS == nil {
		one := 1
		tb.QoS = &one
	}
	if tb.MaxPayloadSizeBytes == 0 {
		tb.MaxPayloadSizeBytes = 8196
	}
	if tb.MinPackSendDelayMS == 0 {
		tb.MinPackSendDelayMS = 50
	}
	if tb.CheckConnectorsConfigurationInSeconds == 0 {
		tb.CheckConnectorsConfigurationInSeconds = 60
	}
	if tb.Statistics.StatsSendPeriodInSeconds == 0 {
		tb.Statistics.StatsSendPeriodInSeconds = 60
	}
	if tb.Statistics.StatsSendPeriodInSeconds < 10 {
		tb.Statistics.StatsSendPeriodInSeconds = 10
	}
	if tb.Statistics.CustomStatsSendPeriodInSeconds == 0 {
		tb.Statistics.CustomStatsSendPeriodInSeconds = 3600
	}
	if tb.ReportStrategy == nil {
		tb.ReportStrategy = &ReportStrategy{Type: "ON_RECEIVED"}
	}
	if tb.ReportStrategyDataCacheCleanupInterval == 0 {
		tb.ReportStrategyDataCacheCleanupInterval = 3600
	}
	a := &tb.CheckingDeviceActivity
	if a.InactivityTimeoutSeconds == 0 {
		a.InactivityTimeoutSeconds = 300
	}
	if a.InactivityCheckPeriodSeconds == 0 {
		a.InactivityCheckPeriodSeconds = 10
	}
}

// Enabled reports a *bool option with its default.
func Enabled(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
