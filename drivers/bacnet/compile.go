package bacnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/codec/conf"
)

// plan is a validated configuration.
type plan struct {
	bind       netip.AddrPort
	broadcast  netip.Addr // directed broadcast of the local network
	self       bacnet.ObjectID
	objectName string
	vendorID   uint64
	maxAPDU    int
	seg        bacnet.Segmentation
	window     uint8

	discoverTimeout time.Duration
	discoverPeriod  time.Duration
	rescanPeriod    time.Duration
	apduTimeout     time.Duration
	retries         int
	workers         int

	foreign    netip.AddrPort // BBMD to register with; invalid when none
	foreignTTL time.Duration

	devices []*devicePlan
}

type devicePlan struct {
	index    int
	path     string // "devices[i]"
	addr     addrPattern
	hasAddr  bool
	ids      idPattern
	hasIDs   bool
	alt      []addrPattern
	name     expr
	profile  expr
	poll     time.Duration
	report   *codec.Strategy
	items    []*item
	allAttrs bool          // "attributes": "*"
	allTS    bool          // "timeseries": "*"
	rescan   time.Duration // 0: the application's
	writes   []*writePlan
	rpcs     map[string]*rpcPlan
	cov      bool
	covLife  time.Duration
	py       *pyConverter // uplink_converter: upstream's Python class, nil for the built-in conversion
}

// expr is a deviceInfo expression: a constant, or a template with
// ${objectName}, ${objectId}, ${vendorId}, ${address} and the router
// placeholders.
type expr struct {
	text     string
	constant bool
}

var placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })

func (e expr) eval(vars map[string]string) string {
	if e.constant {
		return e.text
	}
	return placeholder().ReplaceAllStringFunc(e.text, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func (e expr) uses(name string) bool { return !e.constant && strings.Contains(e.text, "${"+name+"}") }

// item is one attributes/timeseries entry with its lists expanded.
type item struct {
	key      string
	attr     bool
	anyType  bool
	types    []bacnet.ObjectType
	anyID    bool
	ids      [][2]uint32
	anyProp  bool
	props    []bacnet.PropertyID
	keyProps []bacnet.PropertyID // ${prop} placeholders in the key
	report   *codec.Strategy
	cov      *bool
}

func (it *item) matchesObject(o bacnet.ObjectID) bool {
	typeOK := it.anyType
	for _, t := range it.types {
		typeOK = typeOK || t == o.Type
	}
	if !typeOK {
		return false
	}
	if it.anyID {
		return true
	}
	for _, r := range it.ids {
		if o.Instance >= r[0] && o.Instance <= r[1] {
			return true
		}
	}
	return false
}

// needsObjectList reports whether the item can only be resolved against
// the device's object list.
func (it *item) needsObjectList() bool { return it.anyType || it.anyID }

// fixedObjects lists the objects of an item without wildcards.
func (it *item) fixedObjects() []bacnet.ObjectID {
	var out []bacnet.ObjectID
	for _, t := range it.types {
		for _, r := range it.ids {
			for i := r[0]; ; i++ {
				out = append(out, bacnet.ObjectID{Type: t, Instance: i})
				if i == r[1] {
					break
				}
			}
		}
	}
	return out
}

type writePlan struct {
	key      string
	obj      bacnet.ObjectID
	prop     bacnet.PropertyID
	priority uint8
}

type rpcPlan struct {
	method   string
	write    bool
	timeout  time.Duration
	obj      bacnet.ObjectID
	prop     bacnet.PropertyID
	priority uint8
}

// maxExpanded bounds how many objects one item may expand to.
const maxExpanded = 100000

func compile(doc *conf.Doc, cfg *fileConfig, dir string, warn func(error)) (*plan, error) {
	p := &plan{
		objectName: "Gateway", vendorID: 15, maxAPDU: 1476, seg: bacnet.SegmentedBoth, window: 8,
		discoverTimeout: 5 * time.Second, discoverPeriod: 30 * time.Second, rescanPeriod: 60 * time.Second,
		apduTimeout: 3 * time.Second, retries: 3, workers: 8, foreignTTL: 900 * time.Second,
	}
	a := &cfg.Application
	host := a.Host
	if host == "" {
		host = a.Address
	}
	port := DefaultPort
	if host == "" {
		host = "0.0.0.0"
	} else if h, pt, ok := strings.Cut(host, ":"); ok && !strings.Contains(pt, ":") {
		// "address": "192.168.1.2/24:47808" as upstream composes it.
		v, err := strconv.ParseUint(pt, 10, 16)
		if err != nil {
			return nil, doc.Errorf("application.address", "bad port in %q", host)
		}
		host, port = h, int(v)
	}
	mask := ""
	if h, m, ok := strings.Cut(host, "/"); ok {
		host, mask = h, m
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() {
		return nil, doc.Errorf("application.host", "want an IPv4 address, got %q", host)
	}
	if a.Port != nil {
		v, err := rawInt(a.Port)
		if err != nil || v < 0 || v > 65535 {
			return nil, doc.Errorf("application.port", "want a port 0-65535")
		}
		port = int(v)
	}
	p.bind = netip.AddrPortFrom(ip, uint16(port))
	if a.Mask != nil {
		mask = rawString(a.Mask)
	}
	bits := maskBits(mask)
	if bits < 0 {
		if mask != "" {
			warn(fmt.Errorf("%s: application.mask: %q is not a prefix length or netmask, using 24", doc.Pos("application.mask"), mask))
		}
		bits = 24
	}
	p.broadcast = broadcastOf(ip, bits)
	if a.ObjectIdentifier != nil {
		v, err := rawInt(a.ObjectIdentifier)
		if err != nil || v < 0 || v >= bacnet.MaxInstance {
			return nil, doc.Errorf("application.objectIdentifier", "want a device instance 0-4194302")
		}
		p.self = bacnet.ObjectID{Type: bacnet.DeviceType, Instance: uint32(v)}
	} else {
		return nil, doc.Errorf("application", "objectIdentifier is required")
	}
	if a.ObjectName != "" {
		p.objectName = a.ObjectName
	}
	if a.VendorIdentifier != nil && string(a.VendorIdentifier) != "null" {
		v, err := rawInt(a.VendorIdentifier)
		if err != nil || v < 0 || v > 65535 {
			return nil, doc.Errorf("application.vendorIdentifier", "want 0-65535")
		}
		p.vendorID = uint64(v)
	}
	if a.MaxAPDULengthAccepted != nil {
		v, err := rawInt(a.MaxAPDULengthAccepted)
		switch {
		case err != nil:
			return nil, doc.Errorf("application.maxApduLengthAccepted", "want one of 50, 128, 206, 480, 1024, 1476")
		case v == 50 || v == 128 || v == 206 || v == 480 || v == 1024 || v == 1476:
			p.maxAPDU = int(v)
		default:
			warn(fmt.Errorf("%s: application.maxApduLengthAccepted: %d is not a standard size, using 1476", doc.Pos("application.maxApduLengthAccepted"), v))
		}
	}
	if a.SegmentationSupported != "" {
		if p.seg, err = bacnet.ParseSegmentation(a.SegmentationSupported); err != nil {
			return nil, doc.Errorf("application.segmentationSupported", "%v", err)
		}
	}
	secs := func(v *float64, path string, dst *time.Duration, minimum float64) error {
		if v == nil {
			return nil
		}
		if *v < minimum {
			return doc.Errorf(path, "must be at least %g", minimum)
		}
		*dst = time.Duration(*v * float64(time.Second))
		return nil
	}
	if err := secs(a.DeviceDiscoveryTimeoutInSec, "application.deviceDiscoveryTimeoutInSec", &p.discoverTimeout, 0.1); err != nil {
		return nil, err
	}
	if err := secs(a.DevicesDiscoverPeriodSeconds, "application.devicesDiscoverPeriodSeconds", &p.discoverPeriod, 1); err != nil {
		return nil, err
	}
	if err := secs(a.DevicesRescanObjectsPeriodSeconds, "application.devicesRescanObjectsPeriodSeconds", &p.rescanPeriod, 1); err != nil {
		return nil, err
	}
	if a.APDUTimeout != nil {
		if *a.APDUTimeout < 10 {
			return nil, doc.Errorf("application.apduTimeout", "must be at least 10 ms")
		}
		p.apduTimeout = time.Duration(*a.APDUTimeout * float64(time.Millisecond))
	}
	if a.APDURetries != nil {
		if *a.APDURetries < 0 || *a.APDURetries > 10 {
			return nil, doc.Errorf("application.numberOfApduRetries", "want 0-10")
		}
		p.retries = *a.APDURetries
	}
	if a.WindowSize != nil {
		if *a.WindowSize < 1 || *a.WindowSize > 127 {
			return nil, doc.Errorf("application.windowSize", "want 1-127")
		}
		p.window = uint8(*a.WindowSize)
	}
	if cfg.Workers != nil {
		if *cfg.Workers < 1 || *cfg.Workers > 256 {
			return nil, doc.Errorf("workers", "want 1-256")
		}
		p.workers = *cfg.Workers
	}
	if fd := cfg.ForeignDevice; fd != nil && fd.Address != "" {
		h, pt, _ := strings.Cut(fd.Address, ":")
		bip, err := netip.ParseAddr(h)
		if err != nil || !bip.Is4() {
			return nil, doc.Errorf("foreignDevice.address", "want an IPv4 address, got %q", fd.Address)
		}
		bport := DefaultPort
		if pt != "" {
			v, err := strconv.ParseUint(pt, 10, 16)
			if err != nil || v == 0 {
				return nil, doc.Errorf("foreignDevice.address", "bad port in %q", fd.Address)
			}
			bport = int(v)
		}
		if fd.Port != nil {
			v, err := rawInt(fd.Port)
			if err != nil || v < 1 || v > 65535 {
				return nil, doc.Errorf("foreignDevice.port", "want 1-65535")
			}
			bport = int(v)
		}
		if fd.TTL != nil {
			v, err := rawInt(fd.TTL)
			if err != nil || v < 1 || v > 65535 {
				return nil, doc.Errorf("foreignDevice.ttl", "want 1-65535 seconds")
			}
			p.foreignTTL = time.Duration(v) * time.Second
		}
		// 0.0.0.0 (upstream's sample) means: not a foreign device.
		if !bip.IsUnspecified() {
			p.foreign = netip.AddrPortFrom(bip, uint16(bport))
		}
	}
	if cfg.EDEFilePath != "" || (len(cfg.EDEConfig) > 0 && string(cfg.EDEConfig) != "null") {
		key := "edeFilePath"
		if cfg.EDEFilePath == "" {
			key = "edeConfig"
		}
		raw, err := loadEDE(cfg, dir)
		if err != nil {
			return nil, doc.Errorf(key, "%v", err)
		}
		devs, err := edeDevices(raw)
		if err != nil {
			return nil, doc.Errorf(key, "%v", err)
		}
		if len(devs) == 0 {
			warn(fmt.Errorf("%s: %s: the EDE data lists no device with analog or binary objects", doc.Pos(key), key))
		}
		cfg.Devices = append(cfg.Devices, devs...)
	}
	for i := range cfg.Devices {
		d, err := compileDevice(doc, i, &cfg.Devices[i], warn)
		if err != nil {
			return nil, err
		}
		p.devices = append(p.devices, d)
	}
	return p, nil
}

func compileDevice(doc *conf.Doc, i int, c *deviceConfig, warn func(error)) (*devicePlan, error) {
	path := fmt.Sprintf("devices[%d]", i)
	d := &devicePlan{index: i, path: path, poll: 10 * time.Second, rpcs: map[string]*rpcPlan{}, covLife: 300 * time.Second}
	addr := c.Address
	if addr == "" && c.Host != "" {
		addr = strings.TrimRight(c.Host, "/")
		if c.Port != nil {
			addr += ":" + rawString(c.Port)
		}
	}
	if addr != "" {
		a, err := parseAddress(addr)
		if err != nil {
			return nil, doc.Errorf(path+".address", "%v", err)
		}
		d.addr, d.hasAddr = a, true
	}
	if c.DeviceID != nil && string(c.DeviceID) != "null" {
		ids, err := parseIDs(c.DeviceID)
		if err != nil {
			return nil, doc.Errorf(path+".deviceId", "%v", err)
		}
		d.ids, d.hasIDs = ids, true
	}
	if !d.hasAddr && !d.hasIDs {
		return nil, doc.Errorf(path, "needs an address (or host) or a deviceId")
	}
	for j, s := range c.AltResponsesAddresses {
		a, err := parseAddress(s)
		if err != nil {
			return nil, doc.Errorf(fmt.Sprintf("%s.altResponsesAddresses[%d]", path, j), "%v", err)
		}
		d.alt = append(d.alt, a)
	}
	info := c.DeviceInfo
	if info == nil {
		info = &deviceInfoConfig{}
	}
	if info.DeviceNameExpression == "" {
		info.DeviceNameExpression = "BACnet Device ${objectName}"
	}
	var err error
	if d.name, err = compileExpr(doc, path+".deviceInfo.deviceNameExpressionSource", info.DeviceNameExpression, info.DeviceNameExpressionSource); err != nil {
		return nil, err
	}
	if info.DeviceProfileExpression == "" {
		info.DeviceProfileExpression = "default"
	}
	if d.profile, err = compileExpr(doc, path+".deviceInfo.deviceProfileExpressionSource", info.DeviceProfileExpression, info.DeviceProfileExpressionSource); err != nil {
		return nil, err
	}
	if c.PollPeriod != nil {
		if *c.PollPeriod < 10 {
			return nil, doc.Errorf(path+".pollPeriod", "must be at least 10 ms")
		}
		d.poll = time.Duration(*c.PollPeriod * float64(time.Millisecond))
	}
	if d.report, err = c.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	if c.COV != nil {
		d.cov = *c.COV
	}
	if c.COVLifetime != nil {
		if *c.COVLifetime < 10 || *c.COVLifetime > 86400 {
			return nil, doc.Errorf(path+".covLifetime", "want 10-86400 seconds")
		}
		d.covLife = time.Duration(*c.COVLifetime) * time.Second
	}
	if v := c.DevicesRescanObjectsPeriodSeconds; v != nil {
		if *v < 1 {
			return nil, doc.Errorf(path+".devicesRescanObjectsPeriodSeconds", "must be at least 1")
		}
		d.rescan = time.Duration(*v * float64(time.Second))
	}
	if c.UplinkConverter != nil && string(bytes.TrimSpace(c.UplinkConverter)) != "null" {
		if d.py, err = compileConverter(doc, path, i, c.UplinkConverter, d, warn); err != nil {
			return nil, err
		}
	}
	for _, sec := range []struct {
		name string
		raw  json.RawMessage
		attr bool
		all  *bool
	}{{"attributes", c.Attributes, true, &d.allAttrs}, {"timeseries", c.Timeseries, false, &d.allTS}} {
		raw := bytes.TrimSpace(sec.raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if string(raw) == `"*"` {
			*sec.all = true
			continue
		}
		var items []itemConfig
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, doc.Errorf(path+"."+sec.name, "want a list of items or \"*\"")
		}
		for j := range items {
			it, err := compileItem(doc, fmt.Sprintf("%s.%s[%d]", path, sec.name, j), &items[j])
			if err != nil {
				return nil, err
			}
			it.attr = sec.attr
			d.items = append(d.items, it)
		}
	}
	for j, w := range c.AttributeUpdates {
		wp := fmt.Sprintf("%s.attributeUpdates[%d]", path, j)
		if w.Key == "" {
			return nil, doc.Errorf(wp+".key", "required")
		}
		obj, prop, prio, err := compileTarget(doc, wp, w.ObjectType, w.ObjectID, w.PropertyID, w.Priority)
		if err != nil {
			return nil, err
		}
		d.writes = append(d.writes, &writePlan{key: w.Key, obj: obj, prop: prop, priority: prio})
	}
	for j, r := range c.ServerSideRPC {
		rp := fmt.Sprintf("%s.serverSideRpc[%d]", path, j)
		if r.Method == "" {
			return nil, doc.Errorf(rp+".method", "required")
		}
		plan := &rpcPlan{method: r.Method, timeout: 10 * time.Second}
		switch r.RequestType {
		case "readProperty":
		case "writeProperty":
			plan.write = true
		default:
			return nil, doc.Errorf(rp+".requestType", "want readProperty or writeProperty, got %q", r.RequestType)
		}
		if r.RequestTimeout != nil {
			if *r.RequestTimeout < 1 {
				return nil, doc.Errorf(rp+".requestTimeout", "must be positive (ms)")
			}
			plan.timeout = time.Duration(*r.RequestTimeout * float64(time.Millisecond))
		}
		if plan.obj, plan.prop, plan.priority, err = compileTarget(doc, rp, r.ObjectType, r.ObjectID, r.PropertyID, r.Priority); err != nil {
			return nil, err
		}
		if _, dup := d.rpcs[r.Method]; dup {
			warn(fmt.Errorf("%s: %s.method: %q is configured twice; the first is used", doc.Pos(rp+".method"), rp, r.Method))
			continue
		}
		d.rpcs[r.Method] = plan
	}
	return d, nil
}

func compileExpr(doc *conf.Doc, path, text, source string) (expr, error) {
	switch source {
	case "", "expression":
		return expr{text: text}, nil
	case "constant":
		return expr{text: text, constant: true}, nil
	}
	return expr{}, doc.Errorf(path, "want expression or constant, got %q", source)
}

func compileTarget(doc *conf.Doc, path, typ string, id json.RawMessage, prop string, prio json.RawMessage) (bacnet.ObjectID, bacnet.PropertyID, uint8, error) {
	t, err := bacnet.ParseObjectType(typ)
	if err != nil {
		return bacnet.ObjectID{}, 0, 0, doc.Errorf(path+".objectType", "%v", err)
	}
	n, err := rawInt(id)
	if err != nil || n < 0 || n > bacnet.MaxInstance {
		return bacnet.ObjectID{}, 0, 0, doc.Errorf(path+".objectId", "want an instance number 0-%d", bacnet.MaxInstance)
	}
	if prop == "" {
		prop = "presentValue"
	}
	pid, err := bacnet.ParsePropertyID(prop)
	if err != nil {
		return bacnet.ObjectID{}, 0, 0, doc.Errorf(path+".propertyId", "%v", err)
	}
	var pr uint8
	if prio != nil && string(prio) != "null" {
		v, err := rawInt(prio)
		if err != nil || v < 1 || v > 16 {
			return bacnet.ObjectID{}, 0, 0, doc.Errorf(path+".priority", "want 1-16")
		}
		pr = uint8(v)
	}
	return bacnet.ObjectID{Type: t, Instance: uint32(n)}, pid, pr, nil
}

func compileItem(doc *conf.Doc, path string, c *itemConfig) (*item, error) {
	it := &item{key: c.Key, cov: c.COV}
	if c.Key == "" {
		return nil, doc.Errorf(path+".key", "required")
	}
	var err error
	if it.report, err = c.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	types, anyT, err := stringList(c.ObjectType)
	if err != nil || (len(types) == 0 && !anyT) {
		return nil, doc.Errorf(path+".objectType", "want an object type, a list of them or \"*\"")
	}
	it.anyType = anyT
	for _, s := range types {
		t, err := bacnet.ParseObjectType(s)
		if err != nil {
			return nil, doc.Errorf(path+".objectType", "%v", err)
		}
		it.types = append(it.types, t)
	}
	if len(c.ObjectID) == 0 {
		return nil, doc.Errorf(path+".objectId", "required")
	}
	if bytes.Equal(bytes.TrimSpace(c.ObjectID), []byte(`"*"`)) {
		it.anyID = true
	} else {
		ids, err := parseIDs(c.ObjectID)
		if err != nil || ids.any {
			return nil, doc.Errorf(path+".objectId", "want an instance, a range \"1-5\", a list or \"*\"")
		}
		it.ids = ids.ranges
		n := 0
		for _, r := range ids.ranges {
			n += int(r[1]-r[0]) + 1
		}
		if n*max(len(it.types), 1) > maxExpanded {
			return nil, doc.Errorf(path+".objectId", "expands to more than %d objects", maxExpanded)
		}
	}
	if len(it.types) > 1 && !it.anyID {
		// Upstream skips such items; an explicit list of types with
		// explicit instances is unambiguous, so it is accepted.
	}
	props, anyP, err := stringList(c.PropertyID)
	if err != nil {
		return nil, doc.Errorf(path+".propertyId", "want a property, a list of them or \"*\"")
	}
	if len(props) == 0 && !anyP {
		props = []string{"presentValue"}
	}
	it.anyProp = anyP
	for _, s := range props {
		pid, err := bacnet.ParsePropertyID(s)
		if err != nil {
			return nil, doc.Errorf(path+".propertyId", "%v", err)
		}
		it.props = appendProp(it.props, pid)
	}
	for _, m := range placeholder().FindAllStringSubmatch(c.Key, -1) {
		pid, err := bacnet.ParsePropertyID(m[1])
		if err != nil {
			return nil, doc.Errorf(path+".key", "placeholder %s: %v", m[0], err)
		}
		it.keyProps = appendProp(it.keyProps, pid)
		if !anyP {
			it.props = appendProp(it.props, pid)
		}
	}
	return it, nil
}

func appendProp(ps []bacnet.PropertyID, p bacnet.PropertyID) []bacnet.PropertyID {
	for _, x := range ps {
		if x == p {
			return ps
		}
	}
	return append(ps, p)
}

// stringList decodes a string or a list of strings; "*" sets any.
func stringList(raw json.RawMessage) ([]string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "*" {
			return nil, true, nil
		}
		return []string{one}, false, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, false, err
	}
	for _, s := range list {
		if s == "*" {
			return nil, true, nil
		}
	}
	return list, false, nil
}

// parseIDs decodes a number, "*", "a-b", or a list of numbers and ranges.
func parseIDs(raw json.RawMessage) (idPattern, error) {
	raw = bytes.TrimSpace(raw)
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return idPattern{}, err
	}
	var p idPattern
	var add func(x any, top bool) error
	add = func(x any, top bool) error {
		switch x := x.(type) {
		case json.Number:
			r, err := parseRange(x.String())
			if err != nil {
				return err
			}
			p.ranges = append(p.ranges, r)
		case string:
			if x == "*" {
				p.any = true
				return nil
			}
			r, err := parseRange(x)
			if err != nil {
				return err
			}
			p.ranges = append(p.ranges, r)
		case []any:
			if !top {
				return fmt.Errorf("nested list")
			}
			for _, e := range x {
				if err := add(e, false); err != nil {
					return err
				}
			}
			if len(x) == 0 {
				return fmt.Errorf("empty list")
			}
		default:
			return fmt.Errorf("want a number, a range or a list, got %s", raw)
		}
		return nil
	}
	return p, add(v, true)
}

// rawInt decodes a number or a numeric string.
func rawInt(raw json.RawMessage) (int64, error) {
	s := rawString(raw)
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, fmt.Errorf("not an integer: %s", raw)
		}
		return int64(f), nil
	}
	return v, nil
}

// rawString returns a JSON string's content or the raw text of a scalar.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// maskBits parses a prefix length or a dotted netmask; -1 when invalid.
func maskBits(m string) int {
	m = strings.TrimSpace(m)
	if m == "" {
		return -1
	}
	if v, err := strconv.Atoi(m); err == nil {
		if v < 0 || v > 32 || strings.HasPrefix(m, "-") || strings.HasPrefix(m, "+") {
			return -1
		}
		return v
	}
	a, err := netip.ParseAddr(m)
	if err != nil || !a.Is4() {
		return -1
	}
	b := a.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for x&0x80000000 != 0 {
		ones++
		x <<= 1
	}
	if x != 0 {
		return -1 // not contiguous
	}
	return ones
}

func broadcastOf(ip netip.Addr, bits int) netip.Addr {
	if ip.IsUnspecified() {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	b := ip.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if bits < 32 {
		x |= 0xFFFFFFFF >> bits
	}
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
}
