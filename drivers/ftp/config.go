package ftp

import (
	"encoding/json"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/convert"
)

// fileConfig is the connector file as written: upstream's ftp.json in its
// current form ("parameters", "requestsMapping") or the old flat form
// (host, port, security, attributeUpdates and serverSideRpc at the top),
// plus the keys tbgw adds.
type fileConfig struct {
	// Keys the gateway core owns; accepted so they are not reported.
	Name                json.RawMessage `json:"name"`
	ID                  json.RawMessage `json:"id"`
	LogLevel            json.RawMessage `json:"logLevel"`
	EnableRemoteLogging json.RawMessage `json:"enableRemoteLogging"`
	ConfigVersion       json.RawMessage `json:"configVersion"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"`

	Parameters *parameters `json:"parameters"`

	// Old flat format.
	parameters
	AttributeUpdates []attrUpdateConfig `json:"attributeUpdates"`
	ServerSideRPC    []rpcConfig        `json:"serverSideRpc"`

	RequestsMapping *struct {
		AttributeUpdates []attrUpdateConfig `json:"attributeUpdates"`
		ServerSideRPC    []rpcConfig        `json:"serverSideRpc"`
	} `json:"requestsMapping"`

	Paths []pathConfig `json:"paths"`
}

// parameters is the server connection ("parameters" block, or the top
// level in the old format).
type parameters struct {
	Host       string          `json:"host"`
	Port       *int            `json:"port"`
	TLSSupport bool            `json:"TLSSupport"`
	Security   *securityConfig `json:"security"`

	// tbgw keys.
	Timeout *float64   `json:"timeout"` // s, per FTP command or transfer; default 10
	TLS     *tlsConfig `json:"tls"`
}

type securityConfig struct {
	Type     string `json:"type"` // basic, anonymous
	Username string `json:"username"`
	Password string `json:"password"`
}

// tlsConfig (tbgw) controls certificate verification for FTPS, which
// upstream never verifies.
type tlsConfig struct {
	CAFile             string `json:"caFile"`
	ServerName         string `json:"serverName"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify"`
	CertFile           string `json:"certFile"`
	KeyFile            string `json:"keyFile"`
	// Implicit FTPS: TLS from the first byte (port 990 by default)
	// instead of AUTH TLS.
	Implicit bool `json:"implicit"`
}

type pathConfig struct {
	DevicePatternName string                `json:"devicePatternName"`
	DevicePatternType *string               `json:"devicePatternType"`
	Delimiter         *string               `json:"delimiter"`
	Path              string                `json:"path"`
	ReadMode          string                `json:"readMode"`
	MaxFileSize       *float64              `json:"maxFileSize"` // MB
	PollPeriod        *float64              `json:"pollPeriod"`  // s
	TxtFileDataView   string                `json:"txtFileDataView"`
	WithSortingFiles  *bool                 `json:"withSortingFiles"`
	WithSortingFiles2 *bool                 `json:"with_sorting_files"`
	Attributes        []datapointConfig     `json:"attributes"`
	Timeseries        []datapointConfig     `json:"timeseries"`
	ReportStrategy    *codec.StrategyConfig `json:"reportStrategy"`
	Converter         json.RawMessage       `json:"converter"`
}

type datapointConfig = convert.Datapoint

type attrUpdateConfig struct {
	Path             string `json:"path"`
	DeviceNameFilter string `json:"deviceNameFilter"`
	WritingMode      string `json:"writingMode"` // WRITE (append) or OVERRIDE
	ValueExpression  string `json:"valueExpression"`
}

type rpcConfig struct {
	DeviceNameFilter string `json:"deviceNameFilter"`
	MethodFilter     string `json:"methodFilter"`
	ValueExpression  string `json:"valueExpression"`
}
