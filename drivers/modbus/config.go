package modbus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
)

// fileConfig is the connector file: upstream modbus.json.
type fileConfig struct {
	Master *masterConfig `json:"master"`
	Slave  *serverConfig `json:"slave"`
	Server *legacyServer `json:"server"` // the pre-3.0 layout, converted
}

type masterConfig struct {
	Slaves []slaveConfig `json:"slaves"`
}

// connConfig is how to reach a device (or, for the slave section, where to
// serve).
type connConfig struct {
	Type            string          `json:"type"`   // tcp, udp, serial (tls for the server)
	Method          string          `json:"method"` // socket, rtu, ascii, tls
	Host            string          `json:"host"`
	Port            json.RawMessage `json:"port"` // number, or the device path for serial
	Timeout         *float64        `json:"timeout"`
	Retries         json.RawMessage `json:"retries"` // bool or count
	Baudrate        *int            `json:"baudrate"`
	Bytesize        *int            `json:"bytesize"`
	Stopbits        *float64        `json:"stopbits"`
	Parity          string          `json:"parity"`
	HandleLocalEcho bool            `json:"handleLocalEcho"`
	TLS             *tlsConfig      `json:"tls"`
}

type tlsConfig struct {
	Certfile string `json:"certfile"`
	Keyfile  string `json:"keyfile"`
	Password string `json:"password"`
	Cafile   string `json:"cafile"`   // tbgw: CA of the server's certificate
	Insecure bool   `json:"insecure"` // tbgw: do not verify the server (upstream's behaviour)
}

// slaveConfig is one polled device (master.slaves[]).
type slaveConfig struct {
	connConfig
	UnitID                    *int                  `json:"unitId"`
	DeviceName                string                `json:"deviceName"`
	DeviceType                string                `json:"deviceType"`
	PollPeriod                *float64              `json:"pollPeriod"` // ms
	ByteOrder                 string                `json:"byteOrder"`
	WordOrder                 string                `json:"wordOrder"`
	Repack                    bool                  `json:"repack"`
	ConnectAttemptTimeMs      *float64              `json:"connectAttemptTimeMs"`
	ConnectAttemptCount       *int                  `json:"connectAttemptCount"`
	WaitAfterFailedAttemptsMs *float64              `json:"waitAfterFailedAttemptsMs"`
	DelayBetweenRequestsMs    *float64              `json:"delayBetweenRequestsMs"`
	ReportStrategy            *codec.StrategyConfig `json:"reportStrategy"`
	UplinkConverter           string                `json:"uplink_converter"`
	DownlinkConverter         string                `json:"downlink_converter"`
	Attributes                []tagConfig           `json:"attributes"`
	Timeseries                []tagConfig           `json:"timeseries"`
	AttributeUpdates          []tagConfig           `json:"attributeUpdates"`
	RPC                       json.RawMessage       `json:"rpc"` // list, or object keyed by method
	Coalesce                  *coalesceConfig       `json:"coalesce"`

	// Present in upstream samples, without effect there and here.
	RetryOnEmpty         json.RawMessage `json:"retryOnEmpty"`
	RetryOnInvalid       json.RawMessage `json:"retryOnInvalid"`
	SendDataOnlyOnChange json.RawMessage `json:"sendDataOnlyOnChange"`

	// Legacy server.devices[] keys.
	TimeseriesPollPeriod *float64 `json:"timeseriesPollPeriod"`
	AttributesPollPeriod *float64 `json:"attributesPollPeriod"`
}

// coalesceConfig tunes request coalescing (a tbgw extension).
type coalesceConfig struct {
	Enabled      *bool `json:"enabled"`      // default true
	MaxGap       *int  `json:"maxGap"`       // unused objects allowed between two tags, default 0
	MaxRegisters *int  `json:"maxRegisters"` // per request, default 125
	MaxBits      *int  `json:"maxBits"`      // per request, default 2000
}

// tagConfig is one item of attributes, timeseries, attributeUpdates, rpc
// or of the slave section's values.
type tagConfig struct {
	Tag                    string                     `json:"tag"`
	Type                   string                     `json:"type"`
	FunctionCode           *int                       `json:"functionCode"`
	Address                json.RawMessage            `json:"address"` // number or "start-end"
	ObjectsCount           *int                       `json:"objectsCount"`
	RegistersCount         *int                       `json:"registersCount"`
	RegisterCount          *int                       `json:"registerCount"`
	Divider                *float64                   `json:"divider"`
	Multiplier             json.Number                `json:"multiplier"`
	Round                  *int                       `json:"round"`
	Bit                    *int                       `json:"bit"`
	BitTargetType          string                     `json:"bitTargetType"`
	Variants               map[string]json.RawMessage `json:"variants"`
	ReportStrategy         *codec.StrategyConfig      `json:"reportStrategy"`
	MaxRegistersPerRequest *int                       `json:"maxRegistersPerRequest"`
	Value                  json.RawMessage            `json:"value"` // slave section: initial value
}

// serverConfig is the "slave" section: the gateway serving registers.
type serverConfig struct {
	connConfig
	UnitID                *int                  `json:"unitId"`
	DeviceName            string                `json:"deviceName"`
	DeviceType            string                `json:"deviceType"`
	PollPeriod            *float64              `json:"pollPeriod"`
	SendDataToThingsBoard bool                  `json:"sendDataToThingsBoard"`
	ByteOrder             string                `json:"byteOrder"`
	WordOrder             string                `json:"wordOrder"`
	Repack                bool                  `json:"repack"`
	Identity              *identityConfig       `json:"identity"`
	Security              *tlsConfig            `json:"security"`
	ReportStrategy        *codec.StrategyConfig `json:"reportStrategy"`
	Values                *serverValues         `json:"values"`
}

type identityConfig struct {
	VendorName  string `json:"vendorName"`
	ProductCode string `json:"productCode"`
	VendorURL   string `json:"vendorUrl"`
	ProductName string `json:"productName"`
	ModelName   string `json:"ModelName"`
}

// serverValues holds the four data blocks. Each is an object of sections
// or, in the legacy layout, a list holding one such object.
type serverValues struct {
	HoldingRegisters json.RawMessage `json:"holding_registers"`
	Coils            json.RawMessage `json:"coils_initializer"`
	InputRegisters   json.RawMessage `json:"input_registers"`
	DiscreteInputs   json.RawMessage `json:"discrete_inputs"`
}

// legacyServer is the pre-3.0 layout: common connection keys on the
// server object, devices below it.
type legacyServer struct {
	connConfig
	ByteOrder string        `json:"byteOrder"`
	WordOrder string        `json:"wordOrder"`
	Devices   []slaveConfig `json:"devices"`
}

// tagKeys is the set of keys a tag item may carry.
var tagKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(tagConfig{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}()

// decodeTags decodes a list of tag items held raw at path (rpc, and the
// sections of the slave's values, which encoding/json cannot type). Keyed
// is set when the value is an object keyed by method name (the dict form
// of rpc); the key becomes the tag when the item has none.
func decodeTags(doc *conf.Doc, path string, raw json.RawMessage, keyed bool, warn func(error)) ([]tagConfig, []string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	type item struct {
		path string
		key  string
		raw  json.RawMessage
	}
	var items []item
	switch raw[0] {
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, nil, doc.Errorf(path, "%v", err)
		}
		for i, r := range list {
			items = append(items, item{path: fmt.Sprintf("%s[%d]", path, i), raw: r})
		}
	case '{':
		if !keyed {
			return nil, nil, doc.Errorf(path, "wrong type: want array, got object")
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, nil, doc.Errorf(path, "%v", err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, nil, doc.Errorf(path, "%v", err)
			}
			k, _ := tok.(string)
			var r json.RawMessage
			if err := dec.Decode(&r); err != nil {
				return nil, nil, doc.Errorf(path, "%v", err)
			}
			items = append(items, item{path: path + "." + k, key: k, raw: r})
		}
	default:
		return nil, nil, doc.Errorf(path, "wrong type: want array")
	}
	out := make([]tagConfig, 0, len(items))
	keys := make([]string, 0, len(items))
	for _, it := range items {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(it.raw, &fields); err != nil {
			return nil, nil, doc.Errorf(it.path, "wrong type: want object")
		}
		for k := range fields {
			if !tagKeys[k] {
				warn(doc.Errorf(it.path+"."+k, "unknown key, ignored"))
			}
		}
		var tc tagConfig
		if err := json.Unmarshal(it.raw, &tc); err != nil {
			p := it.path
			if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
				p += "." + te.Field
			}
			return nil, nil, doc.Errorf(p, "%v", err)
		}
		if tc.Tag == "" {
			tc.Tag = it.key
		}
		out = append(out, tc)
		keys = append(keys, it.path)
	}
	return out, keys, nil
}

// decodeSection decodes one block of the slave's values (an object of
// sections, or a list whose first element is one).
func decodeSection(doc *conf.Doc, path string, raw json.RawMessage, warn func(error)) (map[string][]tagConfig, map[string][]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	if raw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, nil, doc.Errorf(path, "%v", err)
		}
		if len(list) == 0 {
			return nil, nil, nil
		}
		raw, path = list[0], path+"[0]"
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, doc.Errorf(path, "wrong type: want object")
	}
	out := map[string][]tagConfig{}
	paths := map[string][]string{}
	for k, v := range fields {
		switch k {
		case "attributes", "timeseries", "attributeUpdates", "rpc":
			tags, ps, err := decodeTags(doc, path+"."+k, v, k == "rpc", warn)
			if err != nil {
				return nil, nil, err
			}
			out[k], paths[k] = tags, ps
		default:
			warn(doc.Errorf(path+"."+k, "unknown key, ignored"))
		}
	}
	return out, paths, nil
}
