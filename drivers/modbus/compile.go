package modbus

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/binary"
	"github.com/tbgw/tbgw/codec/conf"
	mb "github.com/tbgw/tbgw/codec/modbus"
)

// Defaults of the upstream connector (and the minimums it enforces).
const (
	defaultTimeout         = 30 * time.Second
	defaultRetries         = 3
	defaultBaud            = 19200
	minAttemptGap          = 500 * time.Millisecond
	minAttempts            = 2
	minBackoff             = 30 * time.Second
	defaultServerPoll      = 5 * time.Second
	defaultServerName      = "Modbus Slave"
	attributeUpdateTimeout = 5 * time.Second
)

type framing uint8

const (
	framingMBAP framing = iota
	framingRTU
	framingASCII
)

func (f framing) String() string {
	return [...]string{"socket", "rtu", "ascii"}[f]
}

// serialMode is how a serial line is set up.
type serialMode struct {
	baud     int
	dataBits int
	parity   byte    // N, E, O, M, S
	stopBits float64 // 1, 1.5, 2
}

// charTime is the time one character takes on the line.
func (m serialMode) charTime() time.Duration {
	bits := 1 + float64(m.dataBits) + m.stopBits
	if m.parity != 'N' {
		bits++
	}
	return time.Duration(bits / float64(m.baud) * float64(time.Second))
}

// silence is the inter-frame gap of RTU: 3.5 character times, fixed at
// 1.75 ms above 19200 baud.
func (m serialMode) silence() time.Duration {
	if m.baud > 19200 {
		return 1750 * time.Microsecond
	}
	return 35 * m.charTime() / 10
}

// linkSpec says how to reach devices; devices with equal keys share one
// connection (one serial port, one TCP connection).
type linkSpec struct {
	key     string
	network string // tcp, udp, serial, local
	addr    string // host:port or device path
	framing framing
	tls     *tls.Config
	serial  serialMode
	echo    bool // handleLocalEcho
}

// slaveDef is one compiled polled device.
type slaveDef struct {
	name, typ  string
	path       string // configuration path, for messages
	unit       byte
	link       linkSpec
	poll       time.Duration
	timeout    time.Duration
	retries    int
	order      binary.Order
	repack     bool // upstream's repack: writes in pymodbus' repacked layout
	attemptGap time.Duration
	attempts   int
	backoff    time.Duration
	delay      time.Duration
	dev        mb.Device
	caps       []int // per read tag (attributes then telemetry): request size cap, 0 = default
	coalesce   coalesceParams
	writes     []mb.Tag // attributeUpdates
	rpcs       []mb.Tag // rpc, by Key
	local      bool     // the slave section polled in-process
	// pyconv is the slave's uplink_converter, an upstream-style (Python)
	// class called as upstream's Modbus connector does; nil for the
	// built-in conversion.
	pyconv codec.CallUplink
	// pydown is the slave's downlink_converter, an upstream-style class
	// that turns attribute updates and RPC values into the objects to
	// write; nil for the built-in conversion.
	pydown codec.CallDownlink
}

type coalesceParams struct {
	enabled bool
	gap     int
	maxRegs int
	maxBits int
}

// plan is the compiled connector configuration.
type plan struct {
	slaves []*slaveDef
	server *serverDef
}

type compiler struct {
	doc       *conf.Doc
	warn      func(error)
	note      func(error) // remarks on valid settings, logged at info level
	configDir string
	raw       map[string]json.RawMessage // slave configurations by path, read when a custom converter needs one
	// skip (kit.Skip) decides about an unusable attributeUpdates or rpc
	// entry: nil leaves it out with a warning, as upstream does; an error
	// (strict mode) refuses the file.
	skip func(error) error
}

func (c *compiler) errorf(path, format string, args ...any) error {
	return c.doc.Errorf(path, format, args...)
}

func compile(doc *conf.Doc, cfg *fileConfig, configDir string, warn, note func(error), skip func(error) error) (*plan, error) {
	c := &compiler{doc: doc, warn: warn, note: note, configDir: configDir, skip: skip}
	p := &plan{}
	var slaves []slaveConfig
	var paths []string
	if cfg.Master != nil {
		for i, s := range cfg.Master.Slaves {
			slaves = append(slaves, s)
			paths = append(paths, fmt.Sprintf("master.slaves[%d]", i))
		}
	}
	if cfg.Server != nil {
		warn(doc.Errorf("server", "legacy layout (server.devices): converted; please move to master.slaves"))
		for i, d := range cfg.Server.Devices {
			slaves = append(slaves, legacyDevice(cfg.Server, d))
			paths = append(paths, fmt.Sprintf("server.devices[%d]", i))
		}
	}
	for i := range slaves {
		d, err := c.slave(paths[i], &slaves[i])
		if err != nil {
			return nil, err
		}
		p.slaves = append(p.slaves, d)
	}
	if cfg.Slave != nil {
		srv, dev, err := c.server(cfg.Slave)
		if err != nil {
			return nil, err
		}
		if srv != nil {
			p.server = srv
			p.slaves = append(p.slaves, dev)
		}
	}
	return p, c.checkLinks(p)
}

// legacyDevice fills a server.devices[] entry from the server object, as
// upstream's backward compatibility adapter does.
func legacyDevice(s *legacyServer, d slaveConfig) slaveConfig {
	if d.Host == "" {
		d.Host = s.Host
	}
	if len(d.Port) == 0 {
		d.Port = s.Port
	}
	if d.Type == "" {
		d.Type = s.Type
	}
	if d.Method == "" {
		d.Method = s.Method
	}
	if d.Timeout == nil {
		d.Timeout = s.Timeout
	}
	if d.ByteOrder == "" {
		d.ByteOrder = s.ByteOrder
	}
	if d.WordOrder == "" {
		d.WordOrder = s.WordOrder
	}
	if len(d.Retries) == 0 {
		d.Retries = s.Retries
	}
	if d.Baudrate == nil {
		d.Baudrate = s.Baudrate
	}
	if d.PollPeriod == nil {
		d.PollPeriod = d.TimeseriesPollPeriod
	}
	return d
}

// checkLinks warns when devices sharing a serial port disagree on its
// settings: the first device's settings win.
func (c *compiler) checkLinks(p *plan) error {
	first := map[string]*slaveDef{}
	for _, d := range p.slaves {
		f, ok := first[d.link.key]
		if !ok {
			first[d.link.key] = d
			continue
		}
		if f.link.serial != d.link.serial || f.link.framing != d.link.framing {
			c.warn(c.errorf(d.path, "shares %s with %q but with other line settings; those of %q apply", d.link.addr, f.name, f.name))
		}
	}
	return nil
}

func (c *compiler) order(path string, byteOrder, wordOrder string) (binary.Order, error) {
	var o binary.Order
	var err error
	o.Byte, o.Word = binary.Little, binary.Little // upstream defaults
	if byteOrder != "" {
		if o.Byte, err = binary.ParseEndian(byteOrder); err != nil {
			return o, c.errorf(path+".byteOrder", "%v", err)
		}
	}
	if wordOrder != "" {
		if o.Word, err = binary.ParseEndian(wordOrder); err != nil {
			return o, c.errorf(path+".wordOrder", "%v", err)
		}
	}
	return o, nil
}

func ms(v *float64, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	return time.Duration(*v * float64(time.Millisecond))
}

func (c *compiler) slave(path string, s *slaveConfig) (*slaveDef, error) {
	d := &slaveDef{path: path, name: s.DeviceName, typ: s.DeviceType}
	if d.name == "" {
		return nil, c.errorf(path+".deviceName", "required")
	}
	if d.typ == "" {
		d.typ = "default"
	}
	if s.UnitID == nil {
		return nil, c.errorf(path+".unitId", "required")
	}
	if *s.UnitID < 0 || *s.UnitID > 255 {
		return nil, c.errorf(path+".unitId", "must be 0..255")
	}
	d.unit = byte(*s.UnitID)
	if s.PollPeriod == nil {
		return nil, c.errorf(path+".pollPeriod", "required (milliseconds)")
	}
	if *s.PollPeriod <= 0 {
		return nil, c.errorf(path+".pollPeriod", "must be positive")
	}
	d.poll = ms(s.PollPeriod, 0)
	var err error
	if d.link, err = c.link(path, &s.connConfig, false); err != nil {
		return nil, err
	}
	if err := c.common(path, d, &s.connConfig); err != nil {
		return nil, err
	}
	if d.order, err = c.order(path, s.ByteOrder, s.WordOrder); err != nil {
		return nil, err
	}
	d.attemptGap = max(ms(s.ConnectAttemptTimeMs, minAttemptGap), minAttemptGap)
	d.attempts = minAttempts
	if s.ConnectAttemptCount != nil {
		d.attempts = max(*s.ConnectAttemptCount, minAttempts)
	}
	d.backoff = max(ms(s.WaitAfterFailedAttemptsMs, minBackoff), minBackoff)
	d.delay = ms(s.DelayBetweenRequestsMs, 0)
	if d.delay < 0 {
		return nil, c.errorf(path+".delayBetweenRequestsMs", "must not be negative")
	}
	if s.DownlinkConverter != "" {
		d.pydown, err = codec.NewCallDownlink("modbus-downlink", s.DownlinkConverter, json.RawMessage("{}"))
		if errors.Is(err, codec.ErrNoResolver) {
			c.warn(c.errorf(path+".downlink_converter", "converter %q is not compiled in and no Python extension host is installed; the built-in bytes converter is used", s.DownlinkConverter))
		} else if err != nil {
			return nil, c.errorf(path+".downlink_converter", "%v", err)
		}
	}
	if s.UplinkConverter != "" {
		if d.pyconv, err = c.uplinkConverter(path, s); err != nil {
			return nil, err
		}
	}
	d.repack = s.Repack
	if d.coalesce, err = c.coalesce(path+".coalesce", s.Coalesce); err != nil {
		return nil, err
	}
	devReport, err := s.ReportStrategy.Strategy()
	if err != nil {
		return nil, c.errorf(path+".reportStrategy", "%v", err)
	}
	d.dev = mb.Device{Name: d.name, Type: d.typ, Order: d.order}
	if s.DeviceType == "" {
		d.dev.Type = ""
	}
	for _, sec := range []struct {
		name string
		tags []tagConfig
		dst  *[]mb.Tag
	}{{"attributes", s.Attributes, &d.dev.Attributes}, {"timeseries", s.Timeseries, &d.dev.Telemetry}} {
		for i := range sec.tags {
			tags, cp, err := c.readTag(fmt.Sprintf("%s.%s[%d]", path, sec.name, i), &sec.tags[i], d, devReport)
			if err != nil {
				return nil, err
			}
			*sec.dst = append(*sec.dst, tags...)
			for range tags {
				d.caps = append(d.caps, cp)
			}
		}
	}
	for i := range s.AttributeUpdates {
		t, err := c.writeTag(fmt.Sprintf("%s.attributeUpdates[%d]", path, i), &s.AttributeUpdates[i], false)
		if err != nil {
			if err = c.skip(err); err != nil {
				return nil, err
			}
			continue
		}
		d.writes = append(d.writes, t)
	}
	rpcs, rpaths, err := decodeTags(c.doc, path+".rpc", s.RPC, true, c.warn)
	if err != nil {
		return nil, err
	}
	for i := range rpcs {
		t, err := c.writeTag(rpaths[i], &rpcs[i], true)
		if err != nil {
			if err = c.skip(err); err != nil {
				return nil, err
			}
			continue
		}
		d.rpcs = append(d.rpcs, t)
	}
	return d, nil
}

// common compiles the request settings shared by slaves and the slave
// section.
func (c *compiler) common(path string, d *slaveDef, cc *connConfig) error {
	d.timeout = defaultTimeout
	if cc.Timeout != nil {
		if *cc.Timeout <= 0 {
			return c.errorf(path+".timeout", "must be positive (seconds)")
		}
		d.timeout = time.Duration(*cc.Timeout * float64(time.Second))
	}
	d.retries = defaultRetries
	if r := strings.TrimSpace(string(cc.Retries)); r != "" && r != "null" {
		switch r {
		case "true":
			d.retries = 3
		case "false":
			d.retries = 0
		default:
			n, err := strconv.Atoi(r)
			if err != nil || n < 0 {
				return c.errorf(path+".retries", "want true, false or a count >= 0, got %s", r)
			}
			d.retries = n
		}
	}
	return nil
}

func (c *compiler) coalesce(path string, cc *coalesceConfig) (coalesceParams, error) {
	p := coalesceParams{enabled: true, maxRegs: mb.MaxReadRegisters, maxBits: mb.MaxReadBits}
	if cc == nil {
		return p, nil
	}
	if cc.Enabled != nil {
		p.enabled = *cc.Enabled
	}
	if cc.MaxGap != nil {
		if *cc.MaxGap < 0 || *cc.MaxGap > mb.MaxReadBits {
			return p, c.errorf(path+".maxGap", "must be 0..%d", mb.MaxReadBits)
		}
		p.gap = *cc.MaxGap
	}
	if cc.MaxRegisters != nil {
		if *cc.MaxRegisters < 1 || *cc.MaxRegisters > mb.MaxReadRegisters {
			return p, c.errorf(path+".maxRegisters", "must be 1..%d", mb.MaxReadRegisters)
		}
		p.maxRegs = *cc.MaxRegisters
	}
	if cc.MaxBits != nil {
		if *cc.MaxBits < 1 || *cc.MaxBits > mb.MaxReadBits {
			return p, c.errorf(path+".maxBits", "must be 1..%d", mb.MaxReadBits)
		}
		p.maxBits = *cc.MaxBits
	}
	return p, nil
}

// uplinkConverter builds the slave's uplink_converter: upstream's class of
// that name, constructed with the slave's configuration as upstream's
// BytesUplinkConverterConfig, looked up now so that a missing class fails
// the start. Without an extension host it is reported and the built-in
// conversion used.
func (c *compiler) uplinkConverter(path string, s *slaveConfig) (codec.CallUplink, error) {
	raw := c.slaveRaw(path)
	if raw == nil {
		var err error
		if raw, err = json.Marshal(s); err != nil {
			return nil, err
		}
	}
	cu, err := codec.NewCallUplink("modbus", s.UplinkConverter, raw)
	if errors.Is(err, codec.ErrNoResolver) {
		c.warn(c.errorf(path+".uplink_converter", "converter %q is not compiled in and no Python extension host is installed; the built-in bytes converter is used", s.UplinkConverter))
		return nil, nil
	}
	if err != nil {
		return nil, c.errorf(path+".uplink_converter", "%v", err)
	}
	return cu, nil
}

// slaveRaw is the configuration at master.slaves[i] as written (with the
// keys tbgw does not know, which a custom converter may read).
func (c *compiler) slaveRaw(path string) json.RawMessage {
	if c.raw == nil {
		c.raw = map[string]json.RawMessage{}
		var f struct {
			Master struct {
				Slaves []json.RawMessage `json:"slaves"`
			} `json:"master"`
		}
		if c.doc != nil && json.Unmarshal(c.doc.Raw(), &f) == nil {
			for i, r := range f.Master.Slaves {
				c.raw[fmt.Sprintf("master.slaves[%d]", i)] = r
			}
		}
	}
	return c.raw[path]
}
