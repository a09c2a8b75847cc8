package modbus

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
}

func (c *compiler) errorf(path, format string, args ...any) error {
	return c.doc.Errorf(path, format, args...)
}

func compile(doc *conf.Doc, cfg *fileConfig, configDir string, warn, note func(error)) (*plan, error) {
	c := &compiler{doc: doc, warn: warn, note: note, configDir: configDir}
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

func (c *compiler) link(path string, cc *connConfig, server bool) (linkSpec, error) {
	var l linkSpec
	typ := strings.ToLower(strings.TrimSpace(cc.Type))
	if typ == "" {
		typ = "tcp"
	}
	method := strings.ToLower(strings.TrimSpace(cc.Method))
	switch method {
	case "socket", "tls":
		l.framing = framingMBAP
	case "rtu":
		l.framing = framingRTU
	case "ascii":
		l.framing = framingASCII
	case "":
		if !server {
			return l, c.errorf(path+".method", "required (socket, rtu, ascii or tls)")
		}
		if typ == "serial" {
			l.framing = framingRTU
		}
	default:
		return l, c.errorf(path+".method", "unknown method %q (socket, rtu, ascii or tls)", cc.Method)
	}
	port, err := c.port(path+".port", cc.Port, typ == "serial")
	if err != nil {
		return l, err
	}
	switch typ {
	case "tcp", "udp", "tls":
		if typ == "tls" && !server {
			return l, c.errorf(path+".type", "type tls is for the slave section; use tcp with a tls object")
		}
		host := cc.Host
		if host == "" {
			if !server {
				return l, c.errorf(path+".host", "required for type %s", typ)
			}
		}
		l.network = typ
		if typ == "tls" {
			l.network = "tcp"
		}
		l.addr = netJoin(host, port)
		if cc.TLS != nil && typ == "tcp" && !server {
			cfg, err := c.tlsClient(path+".tls", cc.TLS)
			if err != nil {
				return l, err
			}
			l.tls = cfg
		}
	case "serial":
		l.network, l.addr = "serial", port
		m := serialMode{baud: defaultBaud, dataBits: 8, parity: 'N', stopBits: 1}
		if cc.Baudrate != nil {
			if *cc.Baudrate <= 0 {
				return l, c.errorf(path+".baudrate", "must be positive")
			}
			m.baud = *cc.Baudrate
		}
		if cc.Bytesize != nil {
			if *cc.Bytesize < 5 || *cc.Bytesize > 8 {
				return l, c.errorf(path+".bytesize", "must be 5..8")
			}
			m.dataBits = *cc.Bytesize
		}
		if cc.Stopbits != nil {
			if s := *cc.Stopbits; s != 1 && s != 1.5 && s != 2 {
				return l, c.errorf(path+".stopbits", "must be 1, 1.5 or 2")
			}
			m.stopBits = *cc.Stopbits
		}
		if cc.Parity != "" {
			p := strings.ToUpper(strings.TrimSpace(cc.Parity))
			if len(p) != 1 || !strings.Contains("NEOMS", p) {
				return l, c.errorf(path+".parity", "must be N, E, O, M or S")
			}
			m.parity = p[0]
		}
		l.serial = m
		l.echo = cc.HandleLocalEcho
	default:
		return l, c.errorf(path+".type", "unknown type %q (tcp, udp or serial)", cc.Type)
	}
	l.key = l.network + "|" + l.addr
	return l, nil
}

func netJoin(host, port string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// port reads "port": a number for networks (a numeric string is
// accepted), the device path for serial lines.
func (c *compiler) port(path string, raw json.RawMessage, serial bool) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", c.errorf(path, "required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if serial {
			if s == "" {
				return "", c.errorf(path, "required: the serial device path")
			}
			return s, nil
		}
	} else {
		s = string(raw)
		if serial {
			return "", c.errorf(path, "wrong type: want the serial device path, got %s", s)
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 65535 {
		return "", c.errorf(path, "want a port number 0..65535, got %s", raw)
	}
	return strconv.Itoa(n), nil
}

func (c *compiler) file(name string) string {
	if name == "" || filepath.IsAbs(name) || c.configDir == "" {
		return name
	}
	return filepath.Join(c.configDir, name)
}

// tlsClient builds the client TLS configuration. As upstream (pymodbus'
// generate_ssl), the server certificate is not verified; a client
// certificate is presented when certfile is set.
func (c *compiler) tlsClient(path string, t *tlsConfig) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // upstream behaviour, documented
	if t.Certfile != "" {
		cert, err := loadKeyPair(c.file(t.Certfile), c.file(t.Keyfile), t.Password)
		if err != nil {
			return nil, c.errorf(path+".certfile", "%v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadKeyPair reads a certificate and its key (from keyfile, or from the
// certificate file when keyfile is empty). A password decrypts a legacy
// encrypted PEM key.
func loadKeyPair(certFile, keyFile, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM := certPEM
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return tls.Certificate{}, err
		}
	}
	if password != "" {
		rest := keyPEM
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			//lint:ignore SA1019 legacy encrypted keys are what upstream's password option is for
			if x509.IsEncryptedPEMBlock(blk) { //nolint:staticcheck
				der, err := x509.DecryptPEMBlock(blk, []byte(password)) //nolint:staticcheck
				if err != nil {
					return tls.Certificate{}, fmt.Errorf("decrypt key: %w", err)
				}
				keyPEM = pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: der})
				break
			}
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
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
	if s.UplinkConverter != "" || s.DownlinkConverter != "" {
		c.warn(c.errorf(path, "custom uplink_converter/downlink_converter (Python classes) are not supported; the built-in bytes converters are used"))
	}
	if s.Repack {
		c.warn(c.errorf(path+".repack", "repack is not supported, ignored"))
	}
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
	// caps were appended attributes first, then telemetry, in tag order.
	for i := range s.AttributeUpdates {
		t, err := c.writeTag(fmt.Sprintf("%s.attributeUpdates[%d]", path, i), &s.AttributeUpdates[i], false)
		if err != nil {
			return nil, err
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
			return nil, err
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

func objectsCount(tc *tagConfig) int {
	switch {
	case tc.ObjectsCount != nil:
		return *tc.ObjectsCount
	case tc.RegistersCount != nil:
		return *tc.RegistersCount
	case tc.RegisterCount != nil:
		return *tc.RegisterCount
	}
	return 1
}

// baseTag compiles what read and write items share.
func (c *compiler) baseTag(path string, tc *tagConfig, fcs string) (mb.Tag, error) {
	t := mb.Tag{Key: tc.Tag, Bit: -1, Round: 6}
	if t.Key == "" {
		return t, c.errorf(path+".tag", "required")
	}
	if tc.FunctionCode == nil {
		return t, c.errorf(path+".functionCode", "required (%s)", fcs)
	}
	fc := *tc.FunctionCode
	if !strings.Contains(" "+fcs+",", " "+strconv.Itoa(fc)+",") {
		return t, c.errorf(path+".functionCode", "must be one of %s, got %d", fcs, fc)
	}
	t.Function = byte(fc)
	t.Count = objectsCount(tc)
	if t.Count < 1 {
		return t, c.errorf(path+".objectsCount", "must be at least 1")
	}
	typ := tc.Type
	if typ == "" {
		typ = tc.Tag // upstream falls back to the tag as type name
	}
	k, err := mb.ParseType(typ, t.Count)
	if err != nil {
		return t, c.errorf(path+".type", "%v", err)
	}
	t.Kind = k
	return t, nil
}

// address reads a single address.
func (c *compiler) address(path string, raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, c.errorf(path, "required")
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, c.errorf(path, "want an address 0..65535, got %s", raw)
	}
	a, err := strconv.Atoi(n.String())
	if err != nil || a < 0 || a > 65535 {
		return 0, c.errorf(path, "want an address 0..65535, got %s", raw)
	}
	return a, nil
}

// readTag compiles an attributes or timeseries item: one tag, or one per
// value of an address range ("start-end"). It also returns the request
// size cap of range items (maxRegistersPerRequest), 0 otherwise.
func (c *compiler) readTag(path string, tc *tagConfig, d *slaveDef, devReport *codec.Strategy) ([]mb.Tag, int, error) {
	t, err := c.baseTag(path, tc, "1, 2, 3, 4")
	if err != nil {
		return nil, 0, err
	}
	limit := mb.MaxRead(t.Function)
	if t.Count > limit {
		return nil, 0, c.errorf(path+".objectsCount", "function %d reads at most %d objects, got %d", t.Function, limit, t.Count)
	}
	if t.Kind.Numeric() {
		have := 2 * t.Count
		if mb.IsBitFunction(t.Function) {
			have = (t.Count + 7) / 8
		}
		if have < t.Kind.Size() {
			return nil, 0, c.errorf(path+".objectsCount", "%v needs %d bytes; %d objects of function %d hold %d", t.Kind, t.Kind.Size(), t.Count, t.Function, have)
		}
	}
	if tc.Divider != nil {
		t.Divider = *tc.Divider
	}
	if tc.Multiplier != "" {
		f, err := tc.Multiplier.Float64()
		if err != nil {
			return nil, 0, c.errorf(path+".multiplier", "%v", err)
		}
		t.Multiplier = f
		t.MultiplierInt = !strings.ContainsAny(tc.Multiplier.String(), ".eE") && f == math.Trunc(f) && math.Abs(f) < 1<<53
	}
	if mb.IsBitFunction(t.Function) && (t.Divider != 0 || t.Multiplier != 0) {
		c.warn(c.errorf(path, "divider and multiplier apply to functions 3 and 4 only (as upstream); ignored"))
		t.Divider, t.Multiplier = 0, 0
	}
	if tc.Round != nil {
		t.Round = *tc.Round
	}
	if tc.Bit != nil {
		if *tc.Bit < 0 {
			return nil, 0, c.errorf(path+".bit", "must not be negative")
		}
		t.Bit = *tc.Bit
	}
	switch strings.ToLower(tc.BitTargetType) {
	case "", "bool":
	case "int":
		t.BitAsInt = true
	default:
		return nil, 0, c.errorf(path+".bitTargetType", "must be bool or int, got %q", tc.BitTargetType)
	}
	if len(tc.Variants) > 0 {
		t.Variants = make(map[string]any, len(tc.Variants))
		for k, raw := range tc.Variants {
			v, err := mb.VariantValue(raw)
			if err != nil {
				return nil, 0, c.errorf(path+".variants."+k, "%v", err)
			}
			t.Variants[k] = v
		}
	}
	t.Report = devReport
	if tc.ReportStrategy != nil {
		r, err := tc.ReportStrategy.Strategy()
		if err != nil {
			return nil, 0, c.errorf(path+".reportStrategy", "%v", err)
		}
		if r != nil {
			t.Report = r
		}
	}
	if tc.Value != nil && !d.local {
		c.warn(c.errorf(path+".value", "unknown key, ignored"))
	}
	// A single address, or a range.
	var rng string
	if json.Unmarshal(tc.Address, &rng) == nil && strings.Contains(rng, "-") {
		return c.rangeTags(path, t, rng, tc, d)
	}
	a, err := c.address(path+".address", tc.Address)
	if err != nil {
		return nil, 0, err
	}
	if a+t.Count > 0x10000 {
		return nil, 0, c.errorf(path+".address", "address %d + %d objects exceeds 65535", a, t.Count)
	}
	if tc.MaxRegistersPerRequest != nil {
		c.warn(c.errorf(path+".maxRegistersPerRequest", "applies to address ranges only; ignored"))
	}
	t.Address = uint16(a)
	return []mb.Tag{t}, 0, nil
}

// rangeTags expands an address range: objects start..end+objectsCount-1
// are read and every objectsCount of them make one value, keyed by the tag
// template (${address}, ${unitId}, ${functionCode}, ${type},
// ${objectsCount}; "_${address}" is appended when the tag does not
// mention the address).
func (c *compiler) rangeTags(path string, t mb.Tag, rng string, tc *tagConfig, d *slaveDef) ([]mb.Tag, int, error) {
	lo, hi, ok := strings.Cut(rng, "-")
	start, err1 := strconv.Atoi(strings.TrimSpace(lo))
	end, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start || end+t.Count > 0x10000 {
		return nil, 0, c.errorf(path+".address", "want an address or a range start-end, got %q", rng)
	}
	capacity := 0
	if tc.MaxRegistersPerRequest != nil {
		if *tc.MaxRegistersPerRequest < t.Count || *tc.MaxRegistersPerRequest > mb.MaxRead(t.Function) {
			return nil, 0, c.errorf(path+".maxRegistersPerRequest", "must be %d..%d", t.Count, mb.MaxRead(t.Function))
		}
		capacity = *tc.MaxRegistersPerRequest
	}
	key := t.Key
	if !strings.Contains(key, "address") {
		key += "_${address}"
	}
	last := end + t.Count - 1
	var out []mb.Tag
	for a := start; a <= last; a += t.Count {
		v := t
		v.Address = uint16(a)
		v.Count = min(t.Count, last-a+1)
		v.Key = strings.NewReplacer(
			"${address}", strconv.Itoa(a),
			"${unitId}", strconv.Itoa(int(d.unit)),
			"${functionCode}", strconv.Itoa(int(t.Function)),
			"${type}", tc.Type,
			"${objectsCount}", strconv.Itoa(t.Count),
		).Replace(key)
		out = append(out, v)
	}
	return out, capacity, nil
}

// writeTag compiles an attributeUpdates item (functions 5, 6, 15, 16) or
// an rpc item (also the reads 1-4).
func (c *compiler) writeTag(path string, tc *tagConfig, rpc bool) (mb.Tag, error) {
	fcs := "5, 6, 15, 16"
	if rpc {
		fcs = "1, 2, 3, 4, 5, 6, 15, 16"
	}
	t, err := c.baseTag(path, tc, fcs)
	if err != nil {
		return t, err
	}
	a, err := c.address(path+".address", tc.Address)
	if err != nil {
		return t, err
	}
	t.Address = uint16(a)
	switch t.Function {
	case mb.WriteSingleRegister:
		if n := mb.Words(t.Kind); n > 1 {
			c.note(c.errorf(path+".functionCode", "function 6 writes only the first of the %d registers of %v (as upstream); use 16", n, t.Kind))
		}
	case mb.WriteMultipleRegisters:
		if t.Count > mb.MaxWriteRegisters {
			return t, c.errorf(path+".objectsCount", "function 16 writes at most %d registers", mb.MaxWriteRegisters)
		}
	case mb.WriteMultipleCoils:
		if t.Count > mb.MaxWriteBits {
			return t, c.errorf(path+".objectsCount", "function 15 writes at most %d coils", mb.MaxWriteBits)
		}
	case mb.ReadCoils, mb.ReadDiscreteInputs, mb.ReadHoldingRegisters, mb.ReadInputRegisters:
		if t.Count > mb.MaxRead(t.Function) {
			return t, c.errorf(path+".objectsCount", "function %d reads at most %d objects", t.Function, mb.MaxRead(t.Function))
		}
		if tc.Divider != nil {
			t.Divider = *tc.Divider
		}
		if f, err := tc.Multiplier.Float64(); tc.Multiplier != "" && err == nil {
			t.Multiplier = f
			t.MultiplierInt = !strings.ContainsAny(tc.Multiplier.String(), ".eE")
		}
		if mb.IsBitFunction(t.Function) {
			t.Divider, t.Multiplier = 0, 0
		}
		if tc.Bit != nil && *tc.Bit >= 0 {
			t.Bit = *tc.Bit
		}
		t.BitAsInt = strings.EqualFold(tc.BitTargetType, "int")
		if tc.Round != nil {
			t.Round = *tc.Round
		}
	}
	return t, nil
}
