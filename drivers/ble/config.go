package ble

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/codec/bytesexpr"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/model"
	"github.com/tbgw/tbgw/drivers/bluetooth"
)

// Config is the connector file (upstream ble.json).
type Config struct {
	Name                string                `json:"name"`
	ID                  string                `json:"id"`
	LogLevel            string                `json:"logLevel"`
	EnableRemoteLogging bool                  `json:"enableRemoteLogging"`
	PassiveScanMode     *bool                 `json:"passiveScanMode"`
	ShowMap             bool                  `json:"showMap"`
	Scanner             ScannerConfig         `json:"scanner"`
	ScannerPollPeriod   *float64              `json:"scannerPollPeriod"` // ms between the starts of scanning windows
	ScannerTimeout      *float64              `json:"scannerTimeout"`    // ms: length of a scanning window
	Adapter             string                `json:"adapter"`           // tbgw: "hci1" or "1"; default the first LE controller
	ReportStrategy      *model.StrategyConfig `json:"reportStrategy"`
	Devices             []DeviceConfig        `json:"devices"`
}

// ScannerConfig is the "scanner" block (used by showMap: how long to
// collect, and which advertised name to list).
type ScannerConfig struct {
	Timeout    *float64 `json:"timeout"` // ms
	DeviceName string   `json:"deviceName"`
}

// DeviceConfig is one BLE device.
type DeviceConfig struct {
	Name                    string                `json:"name"`
	MACAddress              string                `json:"MACAddress"`
	AddressType             string                `json:"addressType"` // tbgw: public|random; default what the scan saw, else public
	DeviceType              string                `json:"deviceType"`
	Type                    string                `json:"type"` // converter: bytes|hex
	Extension               string                `json:"extension"`
	PollPeriod              *float64              `json:"pollPeriod"` // ms
	ShowMap                 bool                  `json:"showMap"`
	Timeout                 *float64              `json:"timeout"` // ms
	ConnectRetry            *int                  `json:"connectRetry"`
	ConnectRetryInSeconds   *float64              `json:"connectRetryInSeconds"`
	WaitAfterConnectRetries *float64              `json:"waitAfterConnectRetries"`
	ReportStrategy          *model.StrategyConfig `json:"reportStrategy"`
	Telemetry               []ItemConfig          `json:"telemetry"`
	Attributes              []ItemConfig          `json:"attributes"`
	AttributeUpdates        []AttrUpdateConfig    `json:"attributeUpdates"`
	ServerSideRPC           []RPCConfig           `json:"serverSideRpc"`
}

// ItemConfig is one telemetry or attribute key.
type ItemConfig struct {
	Key                string                `json:"key"`
	Method             string                `json:"method"` // read|notify (characteristics)
	CharacteristicUUID string                `json:"characteristicUUID"`
	Handle             *int                  `json:"handle"`
	ValueExpression    string                `json:"valueExpression"`
	DataSourceType     string                `json:"dataSourceType"` // characteristic|advertisement
	Compute            string                `json:"compute"`        // hex converter: expression over value
	AdvertisementField string                `json:"advertisementField"`
	ServiceUUID        string                `json:"serviceUUID"`
	ReportStrategy     *model.StrategyConfig `json:"reportStrategy"`
}

// AttrUpdateConfig maps a shared attribute onto a characteristic write.
type AttrUpdateConfig struct {
	AttributeOnThingsBoard string `json:"attributeOnThingsBoard"`
	CharacteristicUUID     string `json:"characteristicUUID"`
	WithResponse           *bool  `json:"withResponse"`
}

// RPCConfig is one server-side RPC.
type RPCConfig struct {
	MethodRPC          string `json:"methodRPC"`
	WithResponse       *bool  `json:"withResponse"`
	CharacteristicUUID string `json:"characteristicUUID"`
	MethodProcessing   string `json:"methodProcessing"` // read|write|scan
}

// Compiled forms.

type converterKind uint8

const (
	convBytes converterKind = iota // decimal byte values concatenated, as text
	convHex                        // the selected bytes as one unsigned big-endian integer
)

// advField is what an advertisement item reads.
type advField uint8

const (
	advManufacturer advField = iota
	advServiceData
	advName
	advRSSI
	advTxPower
)

type item struct {
	key     string
	attr    bool
	notify  bool
	adv     bool
	field   advField
	svc     att.UUID // service data UUID (zero: the first service data)
	uuid    att.UUID // characteristic
	handle  uint16   // or a fixed handle
	tmpl    *bytesexpr.Template
	conv    converterKind
	compute *expr.Program
	report  *model.Strategy
}

type rpcSpec struct {
	method       string
	withResponse bool
	uuid         att.UUID
	processing   string // read|write|scan
}

type attrUpdate struct {
	attr         string
	uuid         att.UUID
	withResponse bool
}

type deviceSpec struct {
	name, typ                 string
	addr                      bluetooth.Addr
	addrType                  bluetooth.AddrType // 0: learn from the scan, else public
	pollPeriod, timeout       time.Duration
	connectRetry              int
	retryEvery, waitAfterMany time.Duration
	showMap                   bool
	items                     []*item
	updates                   []attrUpdate
	rpcs                      []rpcSpec
	custom                    *customConv // the device's converter class; nil: the built-in conversion
	warning                   string      // logged when the connector is created
}

// advOnly: no characteristic items, so the device is never connected.
func (d *deviceSpec) advOnly() bool {
	for _, it := range d.items {
		if !it.adv {
			return false
		}
	}
	return true
}

type spec struct {
	adapter     int
	showMap     bool
	mapTimeout  time.Duration
	mapName     string
	devices     []*deviceSpec
	passiveScan bool
	// Scanning windows: scanWindow out of every scanPeriod; continuous
	// when scanPeriod <= scanWindow (upstream's defaults, 10 s and 5 s).
	scanWindow, scanPeriod time.Duration
}

func ms(v *float64, def float64) time.Duration {
	if v == nil {
		return time.Duration(def * float64(time.Millisecond))
	}
	return time.Duration(*v * float64(time.Millisecond))
}

func secs(v *float64, def float64) time.Duration {
	if v == nil {
		return time.Duration(def * float64(time.Second))
	}
	return time.Duration(*v * float64(time.Second))
}

func parseAdapter(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(s), "hci"))
	if err != nil || n < 0 || n > 0xFFFE {
		return 0, fmt.Errorf("want a controller such as \"hci0\" or 0")
	}
	return n, nil
}

func compile(doc *conf.Doc, c *Config) (*spec, error) {
	s := &spec{showMap: c.ShowMap, mapTimeout: ms(c.Scanner.Timeout, 10000), mapName: c.Scanner.DeviceName,
		passiveScan: c.PassiveScanMode == nil || *c.PassiveScanMode}
	var err error
	if s.adapter, err = parseAdapter(c.Adapter); err != nil {
		return nil, doc.Errorf("adapter", "%v", err)
	}
	if s.mapTimeout <= 0 {
		return nil, doc.Errorf("scanner.timeout", "must be positive")
	}
	if s.scanWindow = ms(c.ScannerTimeout, 10000); s.scanWindow <= 0 {
		return nil, doc.Errorf("scannerTimeout", "must be positive")
	}
	if s.scanPeriod = ms(c.ScannerPollPeriod, 5000); s.scanPeriod <= 0 {
		return nil, doc.Errorf("scannerPollPeriod", "must be positive")
	}
	connReport, err := c.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf("reportStrategy", "%v", err)
	}
	names := map[string]bool{}
	for i := range c.Devices {
		d, err := compileDevice(doc, i, &c.Devices[i], connReport)
		if err != nil {
			return nil, err
		}
		if names[d.name] {
			return nil, doc.Errorf(fmt.Sprintf("devices[%d].name", i), "device %q configured twice", d.name)
		}
		names[d.name] = true
		s.devices = append(s.devices, d)
	}
	return s, nil
}

func compileDevice(doc *conf.Doc, index int, c *DeviceConfig, connReport *model.Strategy) (*deviceSpec, error) {
	p := "devices[" + strconv.Itoa(index) + "]"
	d := &deviceSpec{name: strings.TrimSpace(c.Name), typ: c.DeviceType, showMap: c.ShowMap}
	if d.name == "" {
		return nil, doc.Errorf(p+".name", "device name is required")
	}
	if d.typ == "" {
		d.typ = "default"
	}
	var err error
	if d.addr, err = bluetooth.ParseAddr(c.MACAddress); err != nil {
		return nil, doc.Errorf(p+".MACAddress", "%v", err)
	}
	if c.AddressType != "" {
		if d.addrType, err = bluetooth.ParseAddrType(c.AddressType); err != nil {
			return nil, doc.Errorf(p+".addressType", "%v", err)
		}
	}
	d.pollPeriod = ms(c.PollPeriod, 5000)
	if d.pollPeriod <= 0 {
		return nil, doc.Errorf(p+".pollPeriod", "must be positive")
	}
	d.timeout = ms(c.Timeout, 10000)
	if d.timeout <= 0 {
		return nil, doc.Errorf(p+".timeout", "must be positive")
	}
	d.connectRetry = 5
	if c.ConnectRetry != nil {
		if *c.ConnectRetry < 1 {
			return nil, doc.Errorf(p+".connectRetry", "must be at least 1")
		}
		d.connectRetry = *c.ConnectRetry
	}
	d.retryEvery = secs(c.ConnectRetryInSeconds, 0)
	d.waitAfterMany = secs(c.WaitAfterConnectRetries, 0)
	if d.retryEvery < 0 {
		return nil, doc.Errorf(p+".connectRetryInSeconds", "must not be negative")
	}
	if d.waitAfterMany < 0 {
		return nil, doc.Errorf(p+".waitAfterConnectRetries", "must not be negative")
	}
	devReport, err := c.ReportStrategy.Strategy()
	if err != nil {
		return nil, doc.Errorf(p+".reportStrategy", "%v", err)
	}
	if devReport == nil {
		devReport = connReport
	}
	// Upstream picks the converters by the device "type": characteristics
	// use the bytes converter unless type is "hex"... precisely: bytes
	// unless type is set and not "bytes"; advertisements use the hex
	// converter unless type is set and not "hex".
	charConv, advConv := convBytes, convHex
	switch strings.ToLower(c.Type) {
	case "":
	case "bytes":
		advConv = convBytes
	case "hex":
		charConv = convHex
	default:
		return nil, doc.Errorf(p+".type", "unknown converter type %q (want bytes or hex)", c.Type)
	}
	switch c.Extension {
	case "", "BytesBLEUplinkConverter":
		if c.Extension != "" {
			charConv, advConv = convBytes, convBytes
		}
	case "HexBytesBLEUplinkConverter":
		charConv, advConv = convHex, convHex
	default:
		cc, warn, err := customConverter(doc, p, index, c)
		if err != nil {
			return nil, err
		}
		d.custom, d.warning = cc, warn
	}
	for _, sec := range []struct {
		name  string
		items []ItemConfig
		attr  bool
	}{{"telemetry", c.Telemetry, false}, {"attributes", c.Attributes, true}} {
		for i := range sec.items {
			ip := fmt.Sprintf("%s.%s[%d]", p, sec.name, i)
			it, err := compileItem(doc, ip, &sec.items[i], sec.attr, charConv, advConv)
			if err != nil {
				return nil, err
			}
			if it.report == nil {
				it.report = devReport
			}
			d.items = append(d.items, it)
		}
	}
	if d.custom != nil {
		d.custom.bind(d)
	}
	for i, u := range c.AttributeUpdates {
		ip := fmt.Sprintf("%s.attributeUpdates[%d]", p, i)
		if u.AttributeOnThingsBoard == "" {
			return nil, doc.Errorf(ip+".attributeOnThingsBoard", "is required")
		}
		id, err := att.ParseUUID(u.CharacteristicUUID)
		if err != nil {
			return nil, doc.Errorf(ip+".characteristicUUID", "%v", err)
		}
		d.updates = append(d.updates, attrUpdate{attr: u.AttributeOnThingsBoard, uuid: id, withResponse: u.WithResponse == nil || *u.WithResponse})
	}
	for i, r := range c.ServerSideRPC {
		ip := fmt.Sprintf("%s.serverSideRpc[%d]", p, i)
		rs := rpcSpec{method: r.MethodRPC, withResponse: r.WithResponse == nil || *r.WithResponse,
			processing: strings.ToLower(r.MethodProcessing)}
		if rs.method == "" {
			return nil, doc.Errorf(ip+".methodRPC", "is required")
		}
		switch rs.processing {
		case "read", "write":
			if rs.uuid, err = att.ParseUUID(r.CharacteristicUUID); err != nil {
				return nil, doc.Errorf(ip+".characteristicUUID", "%v", err)
			}
		case "scan":
		default:
			return nil, doc.Errorf(ip+".methodProcessing", "unknown %q (want read, write or scan)", r.MethodProcessing)
		}
		d.rpcs = append(d.rpcs, rs)
	}
	return d, nil
}

func compileItem(doc *conf.Doc, p string, c *ItemConfig, attr bool, charConv, advConv converterKind) (*item, error) {
	it := &item{key: c.Key, attr: attr}
	if it.key == "" {
		return nil, doc.Errorf(p+".key", "is required")
	}
	var err error
	if it.report, err = c.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(p+".reportStrategy", "%v", err)
	}
	expr0 := c.ValueExpression
	if expr0 == "" {
		expr0 = "[:]"
	}
	if it.tmpl, err = bytesexpr.Compile(expr0); err != nil {
		return nil, doc.Errorf(p+".valueExpression", "%v", err)
	}
	if c.Compute != "" {
		if it.compute, err = expr.CompileVars(c.Compute, "value"); err != nil {
			return nil, doc.Errorf(p+".compute", "%v", err)
		}
	}
	switch strings.ToLower(c.DataSourceType) {
	case "", "characteristic":
		it.conv = charConv
		switch strings.ToLower(c.Method) {
		case "read":
		case "notify":
			it.notify = true
		default:
			return nil, doc.Errorf(p+".method", "unknown method %q (want read or notify)", c.Method)
		}
		switch {
		case c.CharacteristicUUID != "":
			if it.uuid, err = att.ParseUUID(c.CharacteristicUUID); err != nil {
				return nil, doc.Errorf(p+".characteristicUUID", "%v", err)
			}
		case c.Handle != nil:
			if *c.Handle < 1 || *c.Handle > 0xFFFF {
				return nil, doc.Errorf(p+".handle", "must be 1..65535")
			}
			it.handle = uint16(*c.Handle)
		default:
			return nil, doc.Errorf(p, "characteristicUUID or handle is required")
		}
	case "advertisement":
		it.adv, it.conv = true, advConv
		switch strings.ToLower(c.AdvertisementField) {
		case "", "manufacturerdata":
			it.field = advManufacturer
		case "servicedata":
			it.field = advServiceData
			if c.ServiceUUID != "" {
				if it.svc, err = att.ParseUUID(c.ServiceUUID); err != nil {
					return nil, doc.Errorf(p+".serviceUUID", "%v", err)
				}
			}
		case "name":
			it.field = advName
		case "rssi":
			it.field = advRSSI
		case "txpower":
			it.field = advTxPower
		default:
			return nil, doc.Errorf(p+".advertisementField", "unknown %q (want manufacturerData, serviceData, name, rssi or txPower)", c.AdvertisementField)
		}
	default:
		return nil, doc.Errorf(p+".dataSourceType", "unknown %q (want characteristic or advertisement)", c.DataSourceType)
	}
	return it, nil
}
