package socket

import (
	"encoding/json"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/httpout"
)

// fileConfig is socket.json, with the "socket" block or in upstream's
// older flat layout (type, address, port, bufferSize at the root).
type fileConfig struct {
	Socket  *socketConf  `json:"socket"`
	Devices []deviceConf `json:"devices"`

	// Legacy flat layout.
	Type       string `json:"type"`
	Address    string `json:"address"`
	Port       *int   `json:"port"`
	BufferSize *int   `json:"bufferSize"`

	// Handled by the gateway core or ignored.
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	LogLevel            string          `json:"logLevel"`
	EnableRemoteLogging bool            `json:"enableRemoteLogging"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"`
}

type socketConf struct {
	Type       string `json:"type"` // TCP (default) or UDP
	Address    string `json:"address"`
	Port       *int   `json:"port"`
	BufferSize *int   `json:"bufferSize"`
	// BufferSizeLegacy is the key upstream's code actually reads.
	BufferSizeLegacy *int `json:"buffer_size"`

	// tbgw additions.
	Mode           string           `json:"mode"` // server (default) or client
	Framing        *framingConf     `json:"framing"`
	MaxConnections int              `json:"maxConnections"` // server, default 64
	IdleTimeout    *httpout.Seconds `json:"idleTimeout"`    // default 300, 0: none
	WriteTimeout   *httpout.Seconds `json:"writeTimeout"`   // default 5
	ReconnectMin   *httpout.Seconds `json:"reconnectPeriod"`
}

// framingConf splits a TCP stream into messages (tbgw). Without it every
// read of up to bufferSize bytes is one message, as upstream.
type framingConf struct {
	Type        string `json:"type"`        // none, delimiter, fixed, length
	Delimiter   string `json:"delimiter"`   // delimiter: the bytes ending a message ("\n", "\r\n")
	Length      int    `json:"length"`      // fixed: bytes per message
	LengthBytes int    `json:"lengthBytes"` // length: 1, 2 or 4 prefix bytes
	ByteOrder   string `json:"byteorder"`   // length: big (default) or little
	MaxLength   int    `json:"maxLength"`   // longest message accepted, default 65536
}

type deviceConf struct {
	Address           string                `json:"address"`
	AddressFilter     string                `json:"addressFilter"`
	DeviceName        string                `json:"deviceName"`
	DeviceType        string                `json:"deviceType"`
	Encoding          string                `json:"encoding"`
	Converter         string                `json:"converter"`
	Telemetry         []pointConf           `json:"telemetry"`
	Attributes        []pointConf           `json:"attributes"`
	AttributeRequests []attrReqConf         `json:"attributeRequests"`
	AttributeUpdates  []attrUpdConf         `json:"attributeUpdates"`
	ServerSideRPC     []rpcConf             `json:"serverSideRpc"`
	ReportStrategy    *codec.StrategyConfig `json:"reportStrategy"`
}

type pointConf struct {
	Key            string                `json:"key"`
	ByteFrom       *int                  `json:"byteFrom"`
	ByteTo         *int                  `json:"byteTo"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
}

type attrReqConf struct {
	Type                          string `json:"type"` // shared, client
	RequestExpression             string `json:"requestExpression"`
	AttributeNameExpression       string `json:"attributeNameExpression"`
	RequestExpressionSource       string `json:"requestExpressionSource"`
	AttributeNameExpressionSource string `json:"attributeNameExpressionSource"`
}

type attrUpdConf struct {
	AttributeOnThingsBoard string `json:"attributeOnThingsBoard"`
	Encoding               string `json:"encoding"`
}

type rpcConf struct {
	MethodRPC        string `json:"methodRPC"`
	WithResponse     bool   `json:"withResponse"`
	MethodProcessing string `json:"methodProcessing"`
	Encoding         string `json:"encoding"`
}
