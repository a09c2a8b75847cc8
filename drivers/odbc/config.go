package odbc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// fileConfig is the connector file as written: upstream's odbc.json plus
// the keys tbgw adds.
type fileConfig struct {
	// Keys the gateway core owns; accepted so they are not reported.
	Name                json.RawMessage `json:"name"`
	ID                  json.RawMessage `json:"id"`
	LogLevel            json.RawMessage `json:"logLevel"`
	EnableRemoteLogging json.RawMessage `json:"enableRemoteLogging"`
	ConfigVersion       json.RawMessage `json:"configVersion"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"`

	Connection    connectionConfig `json:"connection"`
	Pyodbc        json.RawMessage  `json:"pyodbc"` // pyodbc module settings: nothing to apply
	Polling       pollingConfig    `json:"polling"`
	Mapping       mappingConfig    `json:"mapping"`
	ServerSideRPC *rpcSection      `json:"serverSideRpc"`
	Converter     json.RawMessage  `json:"converter"`
}

type connectionConfig struct {
	Str             string          `json:"str"`
	Attributes      map[string]any  `json:"attributes"` // autocommit, timeout (s)
	Encoding        string          `json:"encoding"`
	Decoding        json.RawMessage `json:"decoding"`
	Reconnect       *bool           `json:"reconnect"`
	ReconnectPeriod *float64        `json:"reconnectPeriod"` // s
}

type pollingConfig struct {
	Query    string          `json:"query"`
	Period   *float64        `json:"period"` // s
	Iterator *iteratorConfig `json:"iterator"`

	// tbgw keys.
	Timeout   *float64 `json:"timeout"`   // s without progress before a query is cancelled
	BatchSize *int     `json:"batchSize"` // rows per Send
}

type iteratorConfig struct {
	Column     string          `json:"column"`
	Value      json.RawMessage `json:"value"`
	Query      string          `json:"query"`
	Persistent bool            `json:"persistent"`
}

type mappingConfig struct {
	Device struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"device"`
	Attributes     items           `json:"attributes"`
	Timeseries     items           `json:"timeseries"`
	ReportStrategy json.RawMessage `json:"reportStrategy"`
}

// items is an "attributes"/"timeseries" value: "*" (every column), or a
// list whose entries are strings (every column, as upstream) or
// {name|nameExpression, column|value}.
type items struct {
	all  bool
	list []itemConfig
}

type itemConfig struct {
	Name           string          `json:"name"`
	NameExpression string          `json:"nameExpression"`
	Column         string          `json:"column"`
	Value          string          `json:"value"`
	ReportStrategy json.RawMessage `json:"reportStrategy"`
}

func (it *items) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		it.all = true
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf(`want "*" or a list`)
	}
	for i, r := range raw {
		r = bytes.TrimSpace(r)
		if len(r) > 0 && r[0] == '"' {
			it.all = true
			continue
		}
		var ic itemConfig
		dec := json.NewDecoder(bytes.NewReader(r))
		if err := dec.Decode(&ic); err != nil {
			return fmt.Errorf("entry %d: %v", i, err)
		}
		it.list = append(it.list, ic)
	}
	return nil
}

type rpcSection struct {
	EnableUnknownRPC  bool              `json:"enableUnknownRpc"`
	OverrideRPCConfig bool              `json:"overrideRpcConfig"`
	Methods           []json.RawMessage `json:"methods"`
}

// rpcMethod is one configured RPC: a stored procedure name with default
// arguments, or a query.
type rpcMethod struct {
	Name   string `json:"name"`
	Args   []any  `json:"args"`
	Params []any  `json:"params"` // older name of args
	Query  string `json:"query"`
	Result bool   `json:"result"`
}
