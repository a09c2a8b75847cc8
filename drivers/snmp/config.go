package snmp

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec"
)

// fileConfig is the connector file as written: upstream's snmp.json plus the
// keys tbgw adds (workers, traps, the SNMPv3 keys of a device).
type fileConfig struct {
	// Keys the gateway core (or remote configuration) owns; accepted here
	// so they are not reported as unknown.
	Name                json.RawMessage `json:"name"`
	ID                  json.RawMessage `json:"id"`
	LogLevel            json.RawMessage `json:"logLevel"`
	EnableRemoteLogging json.RawMessage `json:"enableRemoteLogging"`
	ConfigVersion       json.RawMessage `json:"configVersion"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"` // connector level: applied by the core

	Workers *int           `json:"workers"`
	Traps   *trapsConfig   `json:"traps"`
	Devices []deviceConfig `json:"devices"`
}

type deviceConfig struct {
	DeviceName     string                `json:"deviceName"`
	DeviceType     string                `json:"deviceType"`
	IP             string                `json:"ip"`
	Port           *int                  `json:"port"`
	PollPeriod     *float64              `json:"pollPeriod"` // ms
	Community      *string               `json:"community"`
	Timeout        *float64              `json:"timeout"` // s
	Retries        *int                  `json:"retries"`
	Converter      string                `json:"converter"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`

	// SNMP version and USM (v3) security, tbgw keys.
	Version         any    `json:"version"`
	SecurityLevel   string `json:"securityLevel"`
	UserName        string `json:"userName"`
	AuthProtocol    string `json:"authProtocol"`
	AuthKey         string `json:"authKey"`
	PrivProtocol    string `json:"privProtocol"`
	PrivKey         string `json:"privKey"`
	ContextName     string `json:"contextName"`
	ContextEngineID string `json:"contextEngineId"`

	Attributes              []itemConfig    `json:"attributes"`
	Telemetry               []itemConfig    `json:"telemetry"`
	AttributeUpdateRequests []writeConfig   `json:"attributeUpdateRequests"`
	ServerSideRPCRequests   []rpcConfig     `json:"serverSideRpcRequests"`
	Traps                   []trapMapConfig `json:"traps"`
}

// opConfig is what describes one SNMP operation, shared by datapoints,
// attribute update requests and RPC requests.
type opConfig struct {
	Method       string         `json:"method"`
	OID          any            `json:"oid"` // string or list of strings
	ScalarOID    any            `json:"scalarOid"`
	RepeatingOID any            `json:"repeatingOid"`
	MaxListSize  *int           `json:"maxListSize"`
	BulkSize     *int           `json:"bulkSize"`
	NumBaseNodes *int           `json:"numBaseNodes"`
	Community    *string        `json:"community"`
	Timeout      *float64       `json:"timeout"` // s
	OctetString  string         `json:"octetString"`
	Mappings     map[string]any `json:"mappings"`
	Type         string         `json:"type"` // value type of set/multiset
}

type itemConfig struct {
	Key            string                `json:"key"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
	opConfig
}

type writeConfig struct {
	AttributeFilter string `json:"attributeFilter"`
	opConfig
}

type rpcConfig struct {
	RequestFilter string `json:"requestFilter"`
	opConfig
}

type trapsConfig struct {
	Address     string         `json:"address"`
	Communities []string       `json:"communities"`
	EngineID    string         `json:"engineId"`
	V3Users     []v3UserConfig `json:"v3Users"`
	QueueSize   *int           `json:"queueSize"`
}

type v3UserConfig struct {
	UserName      string `json:"userName"`
	SecurityLevel string `json:"securityLevel"`
	AuthProtocol  string `json:"authProtocol"`
	AuthKey       string `json:"authKey"`
	PrivProtocol  string `json:"privProtocol"`
	PrivKey       string `json:"privKey"`
}

type trapMapConfig struct {
	OID string `json:"oid"`
	Key string `json:"key"`
}

// Defaults (upstream's where upstream has one).
const (
	defaultPort        = 161
	defaultPollPeriod  = 10000 // ms
	defaultCommunity   = "public"
	defaultTimeout     = 6 // s
	defaultRetries     = 1
	defaultBulkSize    = 10
	defaultMaxListSize = 1
	defaultMaxWorkers  = 16
	defaultTrapQueue   = 256
	defaultConverter   = "SNMPUplinkConverter"

	// maxVarbinds bounds the values one walk, table or bulk request may
	// collect, so a misbehaving agent cannot exhaust memory.
	maxVarbinds = 4096
)

// methods lists the SNMP operations by name; read methods may feed
// datapoints, every method may serve an RPC.
var methods = map[string]struct{ read, needOID bool }{
	"get":       {true, true},
	"multiget":  {true, true},
	"getnext":   {true, true},
	"walk":      {true, true},
	"multiwalk": {true, true},
	"bulkwalk":  {true, true},
	"bulkget":   {true, false},
	"table":     {true, true},
	"bulktable": {true, true},
	"set":       {false, true},
	"multiset":  {false, false},
}

// parseOIDs accepts a string or a list of strings and returns the OIDs in
// canonical form (leading dot).
func parseOIDs(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		o, err := canonOID(v)
		if err != nil {
			return nil, err
		}
		return []string{o}, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: want a string OID", i)
			}
			o, err := canonOID(s)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, o)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string OID or an array of them")
}

// canonOID checks a numeric OID ("1.3.6.1" or ".1.3.6.1") and returns it
// with a leading dot, the form gosnmp reports.
func canonOID(s string) (string, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, ".")
	if t == "" {
		return "", fmt.Errorf("empty OID")
	}
	arcs := strings.Split(t, ".")
	if len(arcs) > 128 {
		return "", fmt.Errorf("OID %q has more than 128 arcs", s)
	}
	if len(arcs) < 2 {
		return "", fmt.Errorf("OID %q: at least two arcs needed", s)
	}
	var first, second uint64
	for i, a := range arcs {
		if a == "" {
			return "", fmt.Errorf("OID %q: empty arc", s)
		}
		n, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return "", fmt.Errorf("OID %q: arc %q is not a number below 2^32 (MIB names are not supported)", s, a)
		}
		switch i {
		case 0:
			first = n
		case 1:
			second = n
		}
	}
	if first > 2 || (first < 2 && second >= 40) || second > math.MaxUint32-80 {
		return "", fmt.Errorf("OID %q: not a valid object identifier (first arcs)", s)
	}
	return "." + t, nil
}

// plainOID drops the leading dot: the form upstream uses as keys.
func plainOID(o string) string { return strings.TrimPrefix(o, ".") }

// parseVersion reads "version": 1, 2, 3 or "1", "2c", "v2c", "3", "v3".
func parseVersion(v any) (int, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return 2, nil
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		s = strings.ToLower(strings.TrimSpace(v))
	default:
		return 0, fmt.Errorf("want 1, 2c or 3")
	}
	switch strings.TrimPrefix(s, "v") {
	case "1":
		return 1, nil
	case "2", "2c":
		return 2, nil
	case "3":
		return 3, nil
	}
	return 0, fmt.Errorf("unknown SNMP version %q: want 1, 2c or 3", s)
}
