package rest

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/drivers/httpout"
)

// fileConfig is rest.json, new layout (server, requestsMapping) and the
// legacy one (server keys and request sections at the root).
type fileConfig struct {
	Server          *serverConf     `json:"server"`
	Mapping         []endpointConf  `json:"mapping"`
	RequestsMapping requestsMapping `json:"requestsMapping"`

	// Legacy layout.
	Host              string            `json:"host"`
	Port              *port             `json:"port"`
	SSL               *bool             `json:"SSL"`
	Security          *serverSecurity   `json:"security"`
	AttributeRequests []attrRequestConf `json:"attributeRequests"`
	AttributeUpdates  []httpout.Spec    `json:"attributeUpdates"`
	ServerSideRPC     []httpout.Spec    `json:"serverSideRpc"`

	// tbgw limits.
	MaxBodySize    int64            `json:"maxBodySize"`    // bytes, default 1 MiB
	MaxConcurrent  int              `json:"maxConcurrent"`  // requests handled at once, default 64
	MaxConnections int              `json:"maxConnections"` // open connections, default 256
	ReadTimeout    *httpout.Seconds `json:"readTimeout"`    // whole request, default 30

	// Handled by the gateway core or ignored.
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	LogLevel            string          `json:"logLevel"`
	EnableRemoteLogging bool            `json:"enableRemoteLogging"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"`
}

type serverConf struct {
	Host     string          `json:"host"`
	Port     *port           `json:"port"`
	SSL      bool            `json:"SSL"`
	Security *serverSecurity `json:"security"`
}

type serverSecurity struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	// CACert, when set, requires clients to present a certificate it
	// signed (tbgw).
	CACert string `json:"caCert"`
}

// port is a TCP port written as a number or a string ("5000").
type port int

// UnmarshalJSON never fails: a bad value decodes as -1, reported by
// compile with its position.
func (p *port) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		n = -1
	}
	*p = port(n)
	return nil
}

type authConf struct {
	Type     string `json:"type"` // anonymous, basic
	Username string `json:"username"`
	Password string `json:"password"`
}

type responseConf struct {
	ResponseExpected     bool             `json:"responseExpected"`
	Timeout              *httpout.Seconds `json:"timeout"`
	SuccessResponse      json.RawMessage  `json:"successResponse"`
	UnsuccessfulResponse json.RawMessage  `json:"unsuccessfulResponse"`
	ResponseAttribute    string           `json:"responseAttribute"`
}

type endpointConf struct {
	Endpoint       string                `json:"endpoint"`
	HTTPMethods    []string              `json:"HTTPMethods"`
	Security       *authConf             `json:"security"`
	Response       *responseConf         `json:"response"`
	Converter      convert.Config        `json:"converter"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
}

type attrRequestConf struct {
	Endpoint                string           `json:"endpoint"`
	Type                    string           `json:"type"` // shared, client
	HTTPMethods             []string         `json:"HTTPMethods"`
	Security                *authConf        `json:"security"`
	Timeout                 *httpout.Seconds `json:"timeout"`
	DeviceNameExpression    string           `json:"deviceNameExpression"`
	AttributeNameExpression string           `json:"attributeNameExpression"`
}

type requestsMapping struct {
	AttributeRequests []attrRequestConf `json:"attributeRequests"`
	AttributeUpdates  []httpout.Spec    `json:"attributeUpdates"`
	ServerSideRPC     []httpout.Spec    `json:"serverSideRpc"`
}
