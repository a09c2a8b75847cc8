package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tbgw/tbgw/gw/connector"
)

// ProtocolVersion is the version of the JSON-lines protocol this connector
// speaks (docs/connectors/exec.md).
const ProtocolVersion = 1

// Message types the program sends.
const (
	mTelemetry   = "telemetry"
	mAttributes  = "attributes"
	mConnect     = "connect"
	mDisconnect  = "disconnect"
	mAttrRequest = "attributeRequest"
	mRPCReply    = "rpcReply"
	mLog         = "log"
	mHello       = "hello"
)

// inMsg is one decoded line from the program.
type inMsg struct {
	Type       string
	Seq        *uint64
	Data       connector.Data // telemetry, attributes, connect, disconnect (Device, Type)
	ID         int64          // rpcReply
	Result     json.RawMessage
	Err        string
	HasErr     bool
	Client     bool     // attributeRequest
	Keys       []string // attributeRequest
	Level, Msg string   // log
	Protocol   int      // hello
}

// wireIn is the JSON shape of every program line.
type wireIn struct {
	Type       string                     `json:"type"`
	Seq        *uint64                    `json:"seq"`
	Device     string                     `json:"device"`
	DeviceType string                     `json:"deviceType"`
	TS         *int64                     `json:"ts"`
	Values     map[string]json.RawMessage `json:"values"`
	ID         *int64                     `json:"id"`
	Result     json.RawMessage            `json:"result"`
	Error      *string                    `json:"error"`
	Client     bool                       `json:"client"`
	Keys       []string                   `json:"keys"`
	Level      string                     `json:"level"`
	Msg        string                     `json:"msg"`
	Protocol   int                        `json:"protocol"`
}

// decodeLine parses one line (without its newline). Errors are meant for
// the program and the log; they never depend on more than the line.
func decodeLine(line []byte) (inMsg, error) {
	var w wireIn
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return inMsg{}, errors.New("not a JSON object")
	}
	if !utf8.Valid(line) {
		return inMsg{}, errors.New("not UTF-8")
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return inMsg{}, fmt.Errorf("bad JSON: %v", shortErr(err))
	}
	m := inMsg{Type: w.Type, Seq: w.Seq}
	switch w.Type {
	case mTelemetry, mAttributes:
		if w.Device == "" {
			return m, errors.New(`"device" is required`)
		}
		if len(w.Values) == 0 {
			return m, errors.New(`"values" must be a non-empty object`)
		}
		if w.TS != nil && (w.Type == mAttributes || *w.TS < 0) {
			return m, errors.New(`"ts" is allowed on telemetry only, in Unix milliseconds >= 0`)
		}
		pts := make([]connector.Point, 0, len(w.Values))
		for k, raw := range w.Values {
			if k == "" {
				return m, errors.New("empty key in values")
			}
			v, err := value(raw)
			if err != nil {
				return m, fmt.Errorf("values.%s: %v", k, err)
			}
			p := connector.Point{Key: k, Value: v}
			if w.TS != nil {
				p.TS = *w.TS
			}
			pts = append(pts, p)
		}
		sortPoints(pts)
		m.Data = connector.Data{Device: w.Device, Type: w.DeviceType}
		if w.Type == mTelemetry {
			m.Data.Telemetry = pts
		} else {
			m.Data.Attributes = pts
		}
	case mConnect, mDisconnect:
		if w.Device == "" {
			return m, errors.New(`"device" is required`)
		}
		m.Data = connector.Data{Device: w.Device, Type: w.DeviceType}
	case mAttrRequest:
		if w.Device == "" {
			return m, errors.New(`"device" is required`)
		}
		if w.Seq == nil {
			return m, errors.New(`"seq" is required (the answer carries it)`)
		}
		m.Data.Device, m.Client, m.Keys = w.Device, w.Client, w.Keys
	case mRPCReply:
		if w.ID == nil {
			return m, errors.New(`"id" is required`)
		}
		m.ID = *w.ID
		if w.Error != nil {
			m.HasErr, m.Err = true, *w.Error
		} else {
			if len(w.Result) == 0 {
				return m, errors.New(`"result" or "error" is required`)
			}
			m.Result = w.Result
		}
	case mLog:
		m.Level, m.Msg = strings.ToLower(w.Level), w.Msg
	case mHello:
		if w.Protocol != ProtocolVersion {
			return m, fmt.Errorf("protocol %d is not supported (this gateway speaks %d)", w.Protocol, ProtocolVersion)
		}
		m.Protocol = w.Protocol
	case "":
		return m, errors.New(`"type" is required`)
	default:
		return m, fmt.Errorf("unknown type %q", clipStr(w.Type))
	}
	return m, nil
}

// value converts one JSON value to the data model: integers to int64,
// other numbers to float64, objects and arrays stay JSON.
func value(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty")
	}
	switch raw[0] {
	case '{', '[':
		return json.RawMessage(bytes.Clone(raw)), nil
	case 'n':
		return nil, errors.New("null is not a value")
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number out of range: %s", clipStr(n.String()))
	}
	return f, nil
}

func sortPoints(p []connector.Point) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Key < p[j-1].Key; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func shortErr(err error) string { return clipStr(err.Error()) }

func clipStr(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// Messages to the program. Each is marshalled to one line.

type helloOut struct {
	Type          string          `json:"type"`
	Protocol      int             `json:"protocol"`
	Connector     string          `json:"connector"`
	ConnectorType string          `json:"connectorType"`
	Config        json.RawMessage `json:"config"`
}

type ackOut struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
}

type errorOut struct {
	Type  string  `json:"type"`
	Line  int64   `json:"line"`
	Seq   *uint64 `json:"seq,omitempty"`
	Error string  `json:"error"`
}

type attributesOut struct {
	Type   string         `json:"type"`
	Device string         `json:"device"`
	Values map[string]any `json:"values"`
}

type rpcOut struct {
	Type      string          `json:"type"`
	ID        int64           `json:"id"`
	Device    string          `json:"device,omitempty"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	TimeoutMs int64           `json:"timeoutMs"`
}

type attrValuesOut struct {
	Type   string         `json:"type"`
	Seq    uint64         `json:"seq"`
	Device string         `json:"device"`
	Values map[string]any `json:"values,omitempty"`
	Error  string         `json:"error,omitempty"`
}

type stopOut struct {
	Type string `json:"type"`
}
