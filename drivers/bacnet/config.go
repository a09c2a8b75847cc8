package bacnet

import (
	"encoding/json"

	"github.com/tbgw/tbgw/codec"
)

// fileConfig is bacnet.json as upstream writes it, plus the keys tbgw adds
// (marked). Numbers that upstream accepts as strings ("port": "47808") are
// decoded as json.RawMessage and converted by compile.
type fileConfig struct {
	// Keys the gateway core owns; accepted so they are not reported.
	Name                json.RawMessage `json:"name"`
	ID                  json.RawMessage `json:"id"`
	LogLevel            json.RawMessage `json:"logLevel"`
	EnableRemoteLogging json.RawMessage `json:"enableRemoteLogging"`
	ConfigVersion       json.RawMessage `json:"configVersion"`
	ReportStrategy      json.RawMessage `json:"reportStrategy"`

	Application   applicationConfig    `json:"application"`
	ForeignDevice *foreignDeviceConfig `json:"foreignDevice"`
	Devices       []deviceConfig       `json:"devices"`
	EDEFilePath   string               `json:"edeFilePath"`
	EDEConfig     json.RawMessage      `json:"edeConfig"`
	// Workers bounds concurrent device requests (tbgw key, default 8).
	Workers *int `json:"workers"`
}

type applicationConfig struct {
	ObjectName                        string          `json:"objectName"`
	Host                              string          `json:"host"`
	Address                           string          `json:"address"`
	Port                              json.RawMessage `json:"port"`
	Mask                              json.RawMessage `json:"mask"`
	ObjectIdentifier                  json.RawMessage `json:"objectIdentifier"`
	MaxAPDULengthAccepted             json.RawMessage `json:"maxApduLengthAccepted"`
	SegmentationSupported             string          `json:"segmentationSupported"`
	VendorIdentifier                  json.RawMessage `json:"vendorIdentifier"`
	DeviceDiscoveryTimeoutInSec       *float64        `json:"deviceDiscoveryTimeoutInSec"`
	NetworkNumber                     json.RawMessage `json:"networkNumber"`
	NetworkNumberQuality              string          `json:"networkNumberQuality"`
	DevicesDiscoverPeriodSeconds      *float64        `json:"devicesDiscoverPeriodSeconds"`
	DevicesRescanObjectsPeriodSeconds *float64        `json:"devicesRescanObjectsPeriodSeconds"`
	LoadProprietaryDevices            *bool           `json:"loadProprietaryDevices"`
	// tbgw keys: APDU timeout (ms, default 3000) and retries (default 3),
	// and the largest segment window we accept and propose (default 8).
	APDUTimeout *float64 `json:"apduTimeout"`
	APDURetries *int     `json:"numberOfApduRetries"`
	WindowSize  *int     `json:"windowSize"`
}

type foreignDeviceConfig struct {
	Address string          `json:"address"`
	Port    json.RawMessage `json:"port"`
	TTL     json.RawMessage `json:"ttl"`
}

type deviceConfig struct {
	DeviceInfo            *deviceInfoConfig     `json:"deviceInfo"`
	AltResponsesAddresses []string              `json:"altResponsesAddresses"`
	Host                  string                `json:"host"`
	Port                  json.RawMessage       `json:"port"`
	Mask                  json.RawMessage       `json:"mask"`
	Address               string                `json:"address"`
	DeviceID              json.RawMessage       `json:"deviceId"`
	PollPeriod            *float64              `json:"pollPeriod"` // ms
	ReportStrategy        *codec.StrategyConfig `json:"reportStrategy"`
	Attributes            json.RawMessage       `json:"attributes"` // list or "*"
	Timeseries            json.RawMessage       `json:"timeseries"` // list or "*"
	AttributeUpdates      []writeConfig         `json:"attributeUpdates"`
	ServerSideRPC         []rpcConfig           `json:"serverSideRpc"`
	UplinkConverter       json.RawMessage       `json:"uplink_converter"`
	// The application's rescan period, per device (upstream copies it
	// into every device section; its test data has it there).
	DevicesRescanObjectsPeriodSeconds *float64 `json:"devicesRescanObjectsPeriodSeconds"`
	// tbgw keys: COV subscriptions ("cov": true subscribes every item whose
	// object supports it; polling remains the fallback) and their lifetime.
	COV         *bool    `json:"cov"`
	COVLifetime *float64 `json:"covLifetime"` // s, default 300
}

type deviceInfoConfig struct {
	DeviceNameExpression          string `json:"deviceNameExpression"`
	DeviceNameExpressionSource    string `json:"deviceNameExpressionSource"`
	DeviceProfileExpression       string `json:"deviceProfileExpression"`
	DeviceProfileExpressionSource string `json:"deviceProfileExpressionSource"`
}

type itemConfig struct {
	Key            string                `json:"key"`
	ObjectType     json.RawMessage       `json:"objectType"` // name, list or "*"
	ObjectID       json.RawMessage       `json:"objectId"`   // int, "1-5", list, "*"
	PropertyID     json.RawMessage       `json:"propertyId"` // name, list or "*"
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
	// tbgw key: subscribe COV for this item (overrides the device's "cov").
	COV *bool `json:"cov"`
}

type writeConfig struct {
	Key        string          `json:"key"`
	ObjectType string          `json:"objectType"`
	ObjectID   json.RawMessage `json:"objectId"`
	PropertyID string          `json:"propertyId"`
	Priority   json.RawMessage `json:"priority"`
}

type rpcConfig struct {
	Method         string          `json:"method"`
	RequestType    string          `json:"requestType"`
	RequestTimeout *float64        `json:"requestTimeout"` // ms
	ObjectType     string          `json:"objectType"`
	ObjectID       json.RawMessage `json:"objectId"`
	PropertyID     string          `json:"propertyId"`
	Priority       json.RawMessage `json:"priority"`
}
