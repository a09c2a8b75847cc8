package serial

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec/conf"
)

// Config is the connector file (upstream custom_serial.json).
type Config struct {
	UplinkQueueSize int      `json:"uplinkQueueSize"` // accepted; tbgw stores each frame before reading on
	Devices         []Device `json:"devices"`
}

// Device is one serial device (one port).
type Device struct {
	Name       string `json:"name"`
	DeviceName string `json:"deviceName"`
	Type       string `json:"type"`
	DeviceType string `json:"deviceType"`

	Port             string   `json:"port"`
	Baudrate         *int     `json:"baudrate"`
	Bytesize         *int     `json:"bytesize"`
	Stopbits         *float64 `json:"stopbits"`
	Parity           string   `json:"parity"`
	Timeout          *float64 `json:"timeout"` // seconds of silence that end a frame
	WriteTimeout     *float64 `json:"writeTimeout"`
	InterByteTimeout *float64 `json:"interByteTimeout"`
	Dsrdtr           bool     `json:"dsrdtr"`
	Rtscts           bool     `json:"rtscts"`
	Xonxoff          bool     `json:"xonxoff"`
	Exclusive        *bool    `json:"exclusive"`
	Delimiter        *string  `json:"delimiter"`
	Byteorder        string   `json:"byteorder"`
	MaxFrameBytes    int      `json:"maxFrameBytes"`

	Converter         string `json:"converter"`
	UplinkConverter   string `json:"uplink_converter"`
	DownlinkConverter string `json:"downlink_converter"`

	Telemetry        []Key             `json:"telemetry"`
	Timeseries       []Key             `json:"timeseries"`
	Attributes       []Key             `json:"attributes"`
	AttributeUpdates []AttributeUpdate `json:"attributeUpdates"`
	ServerSideRPC    []RPCConfig       `json:"serverSideRpc"`
	ReportStrategy   json.RawMessage   `json:"reportStrategy"`
}

// Key is one datapoint cut out of a frame.
type Key struct {
	Key            string          `json:"key"`
	Type           string          `json:"type"`
	FromByte       *int            `json:"fromByte"`
	ToByte         *int            `json:"toByte"`
	FromDelimiter  string          `json:"fromDelimiter"`
	UntilDelimiter string          `json:"untilDelimiter"`
	ReportStrategy json.RawMessage `json:"reportStrategy"`
}

// AttributeUpdate maps a shared attribute to the text written to the device.
type AttributeUpdate struct {
	AttributeOnPlatform string `json:"attributeOnPlatform"`
	StringToDevice      string `json:"stringToDevice"`
}

// RPCConfig is one serverSideRpc entry.
type RPCConfig struct {
	Method                 string   `json:"method"`
	Type                   string   `json:"type"`
	WithResponse           bool     `json:"withResponse"`
	ResponseType           string   `json:"responseType"`
	ResponseFromByte       *int     `json:"responseFromByte"`
	ResponseToByte         *int     `json:"responseToByte"`
	ResponseUntilDelimiter string   `json:"responseUntilDelimiter"`
	ResponseTimeoutSec     *float64 `json:"responseTimeoutSec"`
}

// devSpec is a validated device.
type devSpec struct {
	name, typ     string
	port          string
	mode          portMode
	gap           time.Duration // silence that ends a frame
	writeTimeout  time.Duration
	delim         []byte
	bigEndian     bool
	maxFrame      int
	telemetry     []keySpec
	attributes    []keySpec
	attrUpdates   []AttributeUpdate
	rpcs          map[string]rpcSpec
	hasDownlinkCv bool
}

type portMode struct {
	baud     int
	dataBits int
	parity   byte    // N E O M S
	stopBits float64 // 1, 1.5, 2
}

type keySpec struct {
	key string
	cut cut
	typ string
}

type rpcSpec struct {
	method   string
	typ      string
	response bool
	respType string
	respCut  cut
	respDel  []byte
	timeout  time.Duration
}

const defaultMaxFrame = 64 << 10

var knownTypes = map[string]bool{"string": true, "int": true, "float": true, "double": true, "bool": true, "json": true, "hex": true, "bytes": true, "raw": true}

func compile(doc *conf.Doc, c *Config) ([]devSpec, error) {
	if len(c.Devices) == 0 {
		return nil, doc.Errorf("devices", "at least one device is required")
	}
	var out []devSpec
	names := map[string]string{}
	ports := map[string]string{}
	for i, d := range c.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		s := devSpec{name: first(d.DeviceName, d.Name, "SerialDevice"), typ: first(d.DeviceType, d.Type, "default"), port: d.Port}
		if s.port == "" {
			s.port = "/dev/ttyUSB0"
		}
		if prev, dup := names[s.name]; dup {
			return nil, doc.Errorf(p+".name", "device name %q is also used by %s", s.name, prev)
		}
		names[s.name] = p
		if prev, dup := ports[s.port]; dup {
			return nil, doc.Errorf(p+".port", "port %s is also used by %s (one device per port)", s.port, prev)
		}
		ports[s.port] = p
		s.mode = portMode{baud: 9600, dataBits: 8, parity: 'N', stopBits: 1}
		if d.Baudrate != nil {
			if *d.Baudrate <= 0 {
				return nil, doc.Errorf(p+".baudrate", "must be positive")
			}
			s.mode.baud = *d.Baudrate
		}
		if d.Bytesize != nil {
			if *d.Bytesize < 5 || *d.Bytesize > 8 {
				return nil, doc.Errorf(p+".bytesize", "must be 5, 6, 7 or 8")
			}
			s.mode.dataBits = *d.Bytesize
		}
		if d.Stopbits != nil {
			if *d.Stopbits != 1 && *d.Stopbits != 1.5 && *d.Stopbits != 2 {
				return nil, doc.Errorf(p+".stopbits", "must be 1, 1.5 or 2")
			}
			s.mode.stopBits = *d.Stopbits
		}
		if d.Parity != "" {
			switch strings.ToUpper(d.Parity) {
			case "N", "NONE":
				s.mode.parity = 'N'
			case "E", "EVEN":
				s.mode.parity = 'E'
			case "O", "ODD":
				s.mode.parity = 'O'
			case "M", "MARK":
				s.mode.parity = 'M'
			case "S", "SPACE":
				s.mode.parity = 'S'
			default:
				return nil, doc.Errorf(p+".parity", "must be N, E, O, M or S")
			}
		}
		s.gap = time.Second
		if d.Timeout != nil {
			if *d.Timeout <= 0 {
				return nil, doc.Errorf(p+".timeout", "must be positive (seconds)")
			}
			s.gap = secs(*d.Timeout)
		}
		s.writeTimeout = 5 * time.Second
		if d.WriteTimeout != nil && *d.WriteTimeout > 0 {
			s.writeTimeout = secs(*d.WriteTimeout)
		}
		s.delim = []byte("\n")
		if d.Delimiter != nil {
			if *d.Delimiter == "" {
				return nil, doc.Errorf(p+".delimiter", "must not be empty")
			}
			s.delim = []byte(*d.Delimiter)
		}
		switch strings.ToLower(d.Byteorder) {
		case "", "big":
			s.bigEndian = true
		case "little":
		default:
			return nil, doc.Errorf(p+".byteorder", "must be big or little")
		}
		s.maxFrame = defaultMaxFrame
		if d.MaxFrameBytes != 0 {
			if d.MaxFrameBytes < 1 || d.MaxFrameBytes > 16<<20 {
				return nil, doc.Errorf(p+".maxFrameBytes", "must be between 1 and 16777216")
			}
			s.maxFrame = d.MaxFrameBytes
		}
		tel, tp := d.Telemetry, p+".telemetry"
		if len(tel) == 0 && len(d.Timeseries) > 0 {
			tel, tp = d.Timeseries, p+".timeseries"
		}
		var err error
		if s.telemetry, err = compileKeys(doc, tp, tel); err != nil {
			return nil, err
		}
		if s.attributes, err = compileKeys(doc, p+".attributes", d.Attributes); err != nil {
			return nil, err
		}
		for j, au := range d.AttributeUpdates {
			if au.AttributeOnPlatform == "" {
				return nil, doc.Errorf(fmt.Sprintf("%s.attributeUpdates[%d].attributeOnPlatform", p, j), "required")
			}
		}
		s.attrUpdates = d.AttributeUpdates
		s.rpcs = map[string]rpcSpec{}
		for j, r := range d.ServerSideRPC {
			rp := fmt.Sprintf("%s.serverSideRpc[%d]", p, j)
			if r.Method == "" {
				return nil, doc.Errorf(rp+".method", "required")
			}
			if _, dup := s.rpcs[r.Method]; dup {
				return nil, doc.Errorf(rp+".method", "method %q configured twice", r.Method)
			}
			rs := rpcSpec{method: r.Method, typ: strings.ToLower(r.Type), response: r.WithResponse,
				respType: strings.ToLower(first(r.ResponseType, "string")), timeout: 5 * time.Second}
			if !knownTypes[rs.respType] {
				return nil, doc.Errorf(rp+".responseType", "unknown type %q (want string, int, float, double, bool, json or hex)", r.ResponseType)
			}
			if r.ResponseTimeoutSec != nil {
				if *r.ResponseTimeoutSec <= 0 {
					return nil, doc.Errorf(rp+".responseTimeoutSec", "must be positive")
				}
				rs.timeout = secs(*r.ResponseTimeoutSec)
			}
			rs.respCut = cut{from: r.ResponseFromByte, to: r.ResponseToByte}
			rs.respDel = s.delim
			if r.ResponseUntilDelimiter != "" {
				rs.respDel = []byte(r.ResponseUntilDelimiter)
			}
			s.rpcs[r.Method] = rs
		}
		s.hasDownlinkCv = d.DownlinkConverter != ""
		out = append(out, s)
	}
	return out, nil
}

func compileKeys(doc *conf.Doc, p string, keys []Key) ([]keySpec, error) {
	var out []keySpec
	for i, k := range keys {
		kp := fmt.Sprintf("%s[%d]", p, i)
		if k.Key == "" {
			return nil, doc.Errorf(kp+".key", "required")
		}
		typ := strings.ToLower(k.Type)
		if typ == "" {
			typ = "hex"
		}
		if !knownTypes[typ] {
			return nil, doc.Errorf(kp+".type", "unknown type %q (want string, int, float, double, bool, json or hex)", k.Type)
		}
		out = append(out, keySpec{key: k.Key, typ: typ, cut: cut{from: k.FromByte, to: k.ToByte, fromDelim: k.FromDelimiter, untilDelim: k.UntilDelimiter}})
	}
	return out, nil
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
