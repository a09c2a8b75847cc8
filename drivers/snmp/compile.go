package snmp

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/gw/connector"
)

// plan is a validated configuration, ready to run.
type plan struct {
	workers int
	traps   *trapPlan
	devices []*device
}

// op is one compiled SNMP operation.
type op struct {
	method    string
	oids      []string // canonical, leading dot
	scalar    []string // bulkget non-repeaters
	repeating []string // bulkget repeaters
	maxList   int      // bulkget max-repetitions
	bulk      int      // bulkwalk / bulktable max-repetitions
	baseNodes int      // table: arcs before the column number (0: guess)
	community string   // effective community (v1/v2c)
	timeout   time.Duration
	octets    octetMode
	mappings  []mapping // multiset
	valueType string    // set/multiset value type, "" to infer
}

type mapping struct {
	oid   string
	value any
}

// item is one datapoint read by polling.
type item struct {
	key    string
	attr   bool
	report *connector.Strategy
	op     op
}

// request is an attribute update or RPC request with its name filter.
type request struct {
	filter *pyre.Regex
	op     op
}

type trapMap struct {
	oid string // canonical
	key string // may contain ${oid}
}

type trapPlan struct {
	address     string
	communities map[string]bool // nil: any
	engineID    string          // raw bytes; "" to generate one
	users       []*usmUser
	queue       int
}

// compile validates cfg and builds the plan. Every problem is reported with
// its position in the file.
// skip (kit.Skip) decides about an unusable attributeUpdateRequests or
// serverSideRpcRequests entry: nil leaves it out with a warning, as
// upstream does; an error (strict mode) refuses the file.
func compile(doc *conf.Doc, cfg *fileConfig, warn func(error), skip func(error) error) (*plan, error) {
	p := &plan{}
	if !doc.Has("devices") {
		return nil, doc.Errorf("devices", "required")
	}
	// A custom converter gets its device's configuration as JSON.
	var raw struct {
		Devices []json.RawMessage `json:"devices"`
	}
	for _, d := range cfg.Devices {
		if d.Converter != "" && d.Converter != defaultConverter {
			if err := json.Unmarshal(doc.Raw(), &raw); err != nil {
				return nil, err
			}
			break
		}
	}
	for i := range cfg.Devices {
		path := fmt.Sprintf("devices[%d]", i)
		d, err := compileDevice(doc, path, &cfg.Devices[i], warn, skip)
		if err != nil {
			return nil, err
		}
		var devRaw json.RawMessage
		if i < len(raw.Devices) {
			devRaw = raw.Devices[i]
		}
		d.raw = devRaw
		if d.conv, d.pyconv, err = customConverter(doc, path, cfg.Devices[i].Converter, devRaw, warn); err != nil {
			return nil, err
		}
		d.idx = i
		p.devices = append(p.devices, d)
	}
	p.workers = min(len(p.devices), defaultMaxWorkers)
	if cfg.Workers != nil {
		if *cfg.Workers < 1 || *cfg.Workers > 1024 {
			return nil, doc.Errorf("workers", "must be between 1 and 1024")
		}
		p.workers = *cfg.Workers
	}
	p.workers = max(p.workers, 1)
	if cfg.Traps != nil && cfg.Traps.Address != "" {
		t, err := compileTraps(doc, cfg.Traps)
		if err != nil {
			return nil, err
		}
		p.traps = t
	}
	return p, nil
}

func compileDevice(doc *conf.Doc, path string, c *deviceConfig, warn func(error), skip func(error) error) (*device, error) {
	d := &device{name: c.DeviceName, typ: c.DeviceType, host: strings.TrimSpace(c.IP)}
	if d.name == "" {
		return nil, doc.Errorf(path+".deviceName", "required")
	}
	if d.typ == "" {
		d.typ = "default"
	}
	if d.host == "" {
		return nil, doc.Errorf(path+".ip", "required")
	}
	if a, err := netip.ParseAddr(d.host); err == nil {
		d.literal = a.Unmap()
	} else if strings.ContainsAny(d.host, " /:@") {
		return nil, doc.Errorf(path+".ip", "not an IP address or host name: %q", d.host)
	}
	d.port = defaultPort
	if c.Port != nil {
		if *c.Port < 1 || *c.Port > 65535 {
			return nil, doc.Errorf(path+".port", "must be between 1 and 65535")
		}
		d.port = uint16(*c.Port)
	}
	d.period = defaultPollPeriod * time.Millisecond
	if c.PollPeriod != nil {
		if *c.PollPeriod <= 0 || *c.PollPeriod > math.MaxInt32 {
			return nil, doc.Errorf(path+".pollPeriod", "must be a positive number of milliseconds")
		}
		d.period = time.Duration(*c.PollPeriod * float64(time.Millisecond))
	}
	d.community = defaultCommunity
	if c.Community != nil {
		d.community = *c.Community
	}
	d.timeout = defaultTimeout * time.Second
	if c.Timeout != nil {
		t, err := seconds(*c.Timeout)
		if err != nil {
			return nil, doc.Errorf(path+".timeout", "%v", err)
		}
		d.timeout = t
	}
	d.retries = defaultRetries
	if c.Retries != nil {
		if *c.Retries < 0 || *c.Retries > 10 {
			return nil, doc.Errorf(path+".retries", "must be between 0 and 10")
		}
		d.retries = *c.Retries
	}
	var err error
	if d.report, err = compileStrategy(doc, path+".reportStrategy", c.ReportStrategy); err != nil {
		return nil, err
	}
	if err := compileSecurity(doc, path, c, d); err != nil {
		return nil, err
	}

	for _, kind := range []struct {
		name  string
		items []itemConfig
		attr  bool
	}{{"attributes", c.Attributes, true}, {"telemetry", c.Telemetry, false}} {
		for j := range kind.items {
			ic := &kind.items[j]
			ip := fmt.Sprintf("%s.%s[%d]", path, kind.name, j)
			if ic.Key == "" {
				return nil, doc.Errorf(ip+".key", "required")
			}
			o, err := compileOp(doc, ip, &ic.opConfig, d)
			if err != nil {
				return nil, err
			}
			if !methods[o.method].read {
				return nil, doc.Errorf(ip+".method", "%q writes; datapoints need a read method (get, multiget, getnext, walk, multiwalk, bulkwalk, bulkget, table, bulktable)", o.method)
			}
			it := &item{key: ic.Key, attr: kind.attr, op: o, report: d.report}
			s, err := compileStrategy(doc, ip+".reportStrategy", ic.ReportStrategy)
			if err != nil {
				return nil, err
			}
			if s != nil {
				it.report = s
			}
			d.items = append(d.items, it)
		}
	}
	d.batches, d.single = batchGets(d.items)

	for j := range c.AttributeUpdateRequests {
		w := &c.AttributeUpdateRequests[j]
		wp := fmt.Sprintf("%s.attributeUpdateRequests[%d]", path, j)
		r, err := compileWrite(doc, wp, w, d)
		if err != nil {
			if err = skip(err); err != nil {
				return nil, err
			}
			continue
		}
		d.writes = append(d.writes, r)
	}
	for j := range c.ServerSideRPCRequests {
		r := &c.ServerSideRPCRequests[j]
		rp := fmt.Sprintf("%s.serverSideRpcRequests[%d]", path, j)
		f, err := compileFilter(doc, rp+".requestFilter", r.RequestFilter)
		if err != nil {
			if err = skip(err); err != nil {
				return nil, err
			}
			continue
		}
		o, err := compileOp(doc, rp, &r.opConfig, d)
		if err != nil {
			if err = skip(err); err != nil {
				return nil, err
			}
			continue
		}
		d.rpcs = append(d.rpcs, &request{filter: f, op: o})
	}
	for j, t := range c.Traps {
		tp := fmt.Sprintf("%s.traps[%d]", path, j)
		o, err := canonOID(t.OID)
		if err != nil {
			return nil, doc.Errorf(tp+".oid", "%v", err)
		}
		if t.Key == "" {
			return nil, doc.Errorf(tp+".key", "required")
		}
		d.traps = append(d.traps, trapMap{oid: o, key: t.Key})
	}
	return d, nil
}

// customConverter builds the device's "converter": a Go converter of that
// name compiled in (codec registry, called with the device name and the
// values as JSON), else upstream's Python class of that name run by the
// extension host (called as upstream's SNMP connector does,
// convert(device, {key: value})), looked up now so that a missing class
// fails the start. Without an extension host the name is reported and the
// built-in conversion used.
func customConverter(doc *conf.Doc, path, name string, raw json.RawMessage, warn func(error)) (codec.Uplink, codec.CallUplink, error) {
	if name == "" || name == defaultConverter {
		return nil, nil, nil
	}
	if slices.Contains(codec.Uplinks(), name) {
		u, err := codec.NewUplink(name, raw)
		if err != nil {
			return nil, nil, doc.Errorf(path+".converter", "%v", err)
		}
		return u, nil, nil
	}
	cu, err := codec.NewCallUplink("snmp", name, raw)
	if err != nil {
		if errors.Is(err, codec.ErrNoResolver) {
			warn(doc.Errorf(path+".converter", "converter %q is not compiled in and no Python extension host is installed; the built-in conversion is used", name))
			return nil, nil, nil
		}
		return nil, nil, doc.Errorf(path+".converter", "%v", err)
	}
	return nil, cu, nil
}

func seconds(v float64) (time.Duration, error) {
	if v <= 0 || v > 3600 {
		return 0, fmt.Errorf("must be a positive number of seconds up to 3600")
	}
	return time.Duration(v * float64(time.Second)), nil
}

// compileWrite compiles an attributeUpdateRequests entry.
func compileWrite(doc *conf.Doc, wp string, w *writeConfig, d *device) (*request, error) {
	f, err := compileFilter(doc, wp+".attributeFilter", w.AttributeFilter)
	if err != nil {
		return nil, err
	}
	o, err := compileOp(doc, wp, &w.opConfig, d)
	if err != nil {
		return nil, err
	}
	if o.method != "set" && o.method != "multiset" {
		return nil, doc.Errorf(wp+".method", "must be set or multiset")
	}
	if o.method == "multiset" && len(o.mappings) == 0 {
		return nil, doc.Errorf(wp+".mappings", "required for multiset")
	}
	return &request{filter: f, op: o}, nil
}

func compileOp(doc *conf.Doc, path string, c *opConfig, d *device) (op, error) {
	o := op{method: strings.ToLower(strings.TrimSpace(c.Method)), community: d.community, timeout: d.timeout,
		bulk: defaultBulkSize, maxList: defaultMaxListSize}
	m, ok := methods[o.method]
	if !ok {
		if o.method == "" {
			return o, doc.Errorf(path+".method", "required")
		}
		return o, doc.Errorf(path+".method", "unknown method %q", c.Method)
	}
	var err error
	if o.oids, err = parseOIDs(c.OID); err != nil {
		return o, doc.Errorf(path+".oid", "%v", err)
	}
	if m.needOID && len(o.oids) == 0 {
		return o, doc.Errorf(path+".oid", "required for method %s", o.method)
	}
	if (o.method == "get" || o.method == "getnext" || o.method == "set") && len(o.oids) > 1 {
		return o, doc.Errorf(path+".oid", "method %s takes one OID", o.method)
	}
	if o.scalar, err = parseOIDs(c.ScalarOID); err != nil {
		return o, doc.Errorf(path+".scalarOid", "%v", err)
	}
	if o.repeating, err = parseOIDs(c.RepeatingOID); err != nil {
		return o, doc.Errorf(path+".repeatingOid", "%v", err)
	}
	if o.method == "bulkget" {
		if len(o.scalar)+len(o.repeating) == 0 {
			return o, doc.Errorf(path+".scalarOid", "bulkget needs scalarOid or repeatingOid")
		}
		if len(o.scalar) > 255 {
			return o, doc.Errorf(path+".scalarOid", "at most 255 OIDs")
		}
	}
	if c.MaxListSize != nil {
		if *c.MaxListSize < 1 || *c.MaxListSize > 1000 {
			return o, doc.Errorf(path+".maxListSize", "must be between 1 and 1000")
		}
		o.maxList = *c.MaxListSize
	}
	if c.BulkSize != nil {
		if *c.BulkSize < 1 || *c.BulkSize > 1000 {
			return o, doc.Errorf(path+".bulkSize", "must be between 1 and 1000")
		}
		o.bulk = *c.BulkSize
	}
	if c.NumBaseNodes != nil {
		if *c.NumBaseNodes < 0 || *c.NumBaseNodes > 127 {
			return o, doc.Errorf(path+".numBaseNodes", "must be between 0 and 127")
		}
		o.baseNodes = *c.NumBaseNodes
	}
	if c.Community != nil {
		o.community = *c.Community
	}
	if c.Timeout != nil {
		if o.timeout, err = seconds(*c.Timeout); err != nil {
			return o, doc.Errorf(path+".timeout", "%v", err)
		}
	}
	switch strings.ToLower(c.OctetString) {
	case "", "auto":
	case "text":
		o.octets = octetText
	case "hex":
		o.octets = octetHex
	default:
		return o, doc.Errorf(path+".octetString", "must be auto, text or hex")
	}
	if c.Type != "" {
		if !validType(c.Type) {
			return o, doc.Errorf(path+".type", "unknown value type %q (i, u, t, a, o, s, x, counter32, counter64, ...)", c.Type)
		}
		o.valueType = c.Type
	}
	for k, v := range c.Mappings {
		oid, err := canonOID(k)
		if err != nil {
			return o, doc.Errorf(path+".mappings."+k, "%v", err)
		}
		switch v.(type) {
		case string, float64, bool:
		default:
			return o, doc.Errorf(path+".mappings."+k, "want a string, number or boolean")
		}
		o.mappings = append(o.mappings, mapping{oid: oid, value: v})
	}
	sort.Slice(o.mappings, func(i, j int) bool { return oidLess(o.mappings[i].oid, o.mappings[j].oid) })
	return o, nil
}

// compileFilter compiles a Python-style regular expression that must match
// a whole attribute or method name.
func compileFilter(doc *conf.Doc, path, f string) (*pyre.Regex, error) {
	if f == "" {
		return nil, doc.Errorf(path, "required")
	}
	re, err := pyre.Compile(f)
	if err != nil {
		return nil, doc.Errorf(path, "bad regular expression: %v", err)
	}
	return re, nil
}

// compileStrategy reads a device- or key-level reportStrategy block (codec
// does the upstream rules).
func compileStrategy(doc *conf.Doc, path string, c *codec.StrategyConfig) (*connector.Strategy, error) {
	s, err := c.Strategy()
	if err != nil {
		return nil, doc.Errorf(path, "%v", err)
	}
	return s, nil
}

func compileTraps(doc *conf.Doc, c *trapsConfig) (*trapPlan, error) {
	t := &trapPlan{address: c.Address, queue: defaultTrapQueue}
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return nil, doc.Errorf("traps.address", "want host:port: %v", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, doc.Errorf("traps.address", "bad port %q", port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, doc.Errorf("traps.address", "want an IP address to listen on, got %q", host)
		}
	}
	if len(c.Communities) > 0 {
		t.communities = map[string]bool{}
		for _, s := range c.Communities {
			t.communities[s] = true
		}
	}
	if c.EngineID != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(c.EngineID), "0x"))
		if err != nil || len(b) < 5 || len(b) > 32 {
			return nil, doc.Errorf("traps.engineId", "want 5 to 32 bytes in hex")
		}
		t.engineID = string(b)
	}
	for i := range c.V3Users {
		u, err := compileUser(doc, fmt.Sprintf("traps.v3Users[%d]", i), &c.V3Users[i])
		if err != nil {
			return nil, err
		}
		t.users = append(t.users, u)
	}
	if c.QueueSize != nil {
		if *c.QueueSize < 1 || *c.QueueSize > 65536 {
			return nil, doc.Errorf("traps.queueSize", "must be between 1 and 65536")
		}
		t.queue = *c.QueueSize
	}
	return t, nil
}

// batchGets groups single-OID get datapoints that share community and
// timeout into multi-varbind GET requests; everything else runs alone.
func batchGets(items []*item) (batches [][]*item, single []*item) {
	type key struct {
		community string
		timeout   time.Duration
	}
	idx := map[key]int{}
	for _, it := range items {
		if it.op.method != "get" || len(it.op.oids) != 1 {
			single = append(single, it)
			continue
		}
		k := key{it.op.community, it.op.timeout}
		i, ok := idx[k]
		if !ok || len(batches[i]) >= maxGetBatch {
			i = len(batches)
			idx[k] = i
			batches = append(batches, nil)
		}
		batches[i] = append(batches[i], it)
	}
	return batches, single
}

// maxGetBatch is how many OIDs one batched GET carries: small enough for
// a response to fit one UDP datagram with common values.
const maxGetBatch = 32
