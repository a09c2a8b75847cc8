package request

import (
	"encoding/json"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/convert"
	"github.com/tbgw/tbgw/drivers/httpout"
)

// fileConfig is request.json.
type fileConfig struct {
	Host      string            `json:"host"`
	SSLVerify *bool             `json:"SSLVerify"`
	Security  *httpout.Security `json:"security"`
	Mapping   []mapping         `json:"mapping"`

	AttributeUpdates []httpout.Spec `json:"attributeUpdates"`
	ServerSideRPC    []httpout.Spec `json:"serverSideRpc"`

	// tbgw: requests in flight at once (default 8) and the response
	// size cap in bytes (default 1 MiB).
	Workers         int   `json:"workers"`
	MaxResponseSize int64 `json:"maxResponseSize"`

	// Handled by the gateway core or ignored.
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	LogLevel            string          `json:"logLevel"`
	EnableRemoteLogging bool            `json:"enableRemoteLogging"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"`
}

type mapping struct {
	URL                  string                `json:"url"`
	HTTPMethod           string                `json:"httpMethod"`
	HTTPHeaders          map[string]string     `json:"httpHeaders"`
	Data                 json.RawMessage       `json:"data"`
	Content              json.RawMessage       `json:"content"` // in upstream's sample, never sent (as upstream)
	AllowRedirects       *bool                 `json:"allowRedirects"`
	Timeout              *httpout.Seconds      `json:"timeout"`
	ScanPeriod           *httpout.Seconds      `json:"scanPeriod"`
	DataUnpackExpression string                `json:"dataUnpackExpression"`
	SubRequests          map[string]subRequest `json:"subRequests"`
	Converter            convert.Config        `json:"converter"`
	ReportStrategy       *codec.StrategyConfig `json:"reportStrategy"`
}

type subRequest struct {
	URL                string `json:"url"`
	ProcessingFunction string `json:"processingFunction"`
	// ValueExpression is tbgw's spelling of the same: an expression of
	// package expr over data (the sub-response) and key.
	ValueExpression string `json:"valueExpression"`
}
