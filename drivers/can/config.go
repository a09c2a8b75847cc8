package can

import (
	"encoding/json"

	"github.com/tbgw/tbgw/codec/model"
)

// Config is the connector file (upstream can.json).
type Config struct {
	Interface       string   `json:"interface"` // only "socketcan"
	Channel         string   `json:"channel"`   // interface name, default vcan0
	Backend         *Backend `json:"backend"`
	Reconnect       *bool    `json:"reconnect"`       // default true
	ReconnectPeriod *float64 `json:"reconnectPeriod"` // seconds, default 30
	ReconnectCount  *int     `json:"reconnectCount"`  // default unlimited
	Devices         []Device `json:"devices"`
}

// Backend holds python-can's bus arguments that mean something for
// SocketCAN.
type Backend struct {
	FD                 *bool `json:"fd"`
	Bitrate            *int  `json:"bitrate"`      // set on the interface (ip link), not here
	DataBitrate        *int  `json:"data_bitrate"` // likewise
	ReceiveOwnMessages *bool `json:"receive_own_messages"`
}

// Device is one entry of "devices".
type Device struct {
	Name                 string                `json:"name"`
	Type                 string                `json:"type"`
	SendDataOnlyOnChange bool                  `json:"sendDataOnlyOnChange"`
	EnableUnknownRPC     bool                  `json:"enableUnknownRpc"`
	OverrideRPCConfig    bool                  `json:"overrideRpcConfig"`
	StrictEval           *bool                 `json:"strictEval"` // default true
	Converters           *Converters           `json:"converters"` // custom converter classes (Python, through the extension host)
	ReportStrategy       *model.StrategyConfig `json:"reportStrategy"`
	Attributes           []Item                `json:"attributes"`
	Timeseries           []Item                `json:"timeseries"`
	Telemetry            []Item                `json:"telemetry"` // tbgw alias of timeseries
	AttributeUpdates     []Downlink            `json:"attributeUpdates"`
	ServerSideRPC        []Downlink            `json:"serverSideRpc"`
}

// Converters names a device's custom converter classes, as upstream's
// "converters": {"uplink": "MyUplinkConverter", "downlink": "..."}.
type Converters struct {
	Uplink   string `json:"uplink"`
	Downlink string `json:"downlink"`
}

// Item is one attribute or time series key read from frames.
type Item struct {
	Key            string                `json:"key"`
	NodeID         *int64                `json:"nodeId"`
	IsExtendedID   bool                  `json:"isExtendedId"`
	IsFD           bool                  `json:"isFd"`
	BitrateSwitch  bool                  `json:"bitrateSwitch"`
	Command        json.RawMessage       `json:"command"` // "start:length[:order]:value" or an object
	Value          json.RawMessage       `json:"value"`   // "start:length[:order]:type[:opt]" or an object
	Expression     string                `json:"expression"`
	Polling        *Polling              `json:"polling"`
	ReportStrategy *model.StrategyConfig `json:"reportStrategy"`
}

// Polling sends a request frame with the item's identifier.
type Polling struct {
	Type      string   `json:"type"`   // "always" (default) or "once"
	Period    *float64 `json:"period"` // seconds, default 1
	DataInHex string   `json:"dataInHex"`
}

// Downlink is one entry of attributeUpdates or serverSideRpc.
type Downlink struct {
	AttributeOnThingsBoard string `json:"attributeOnThingsBoard"`
	Attribute              string `json:"attribute"` // older name
	Method                 string `json:"method"`

	NodeID         *int64 `json:"nodeId"`
	IsExtendedID   bool   `json:"isExtendedId"`
	IsFD           bool   `json:"isFd"`
	BitrateSwitch  bool   `json:"bitrateSwitch"`
	DataLength     *int   `json:"dataLength"`
	DataByteorder  string `json:"dataByteorder"`
	DataSigned     bool   `json:"dataSigned"`
	DataEncoding   string `json:"dataEncoding"`
	DataExpression string `json:"dataExpression"`
	DataBefore     string `json:"dataBefore"`
	DataAfter      string `json:"dataAfter"`
	DataInHex      string `json:"dataInHex"`
	Response       *bool  `json:"response"`
}
