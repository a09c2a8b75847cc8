package can

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/canval"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/field"
	"github.com/tbgw/tbgw/codec/model"
	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
)

// Defaults of upstream's CAN connector.
const (
	defaultChannel         = "vcan0"
	defaultReconnectPeriod = 30 * time.Second
	defaultPollPeriod      = time.Second
)

// plan is the compiled configuration.
type plan struct {
	channel string
	fd      bool
	recvOwn bool
	retry   backoff.Policy // reconnect
	retryOn bool
	devices []*device
	byName  map[string]*device
	routes  map[route][]*item
	filters []socketcan.Filter
	polls   []poll
}

// route is a frame identifier as the kernel tells them apart.
type route struct {
	id  uint32
	ext bool
}

type device struct {
	name, typ    string
	onlyOnChange bool
	unknownRPC   bool
	override     bool
	strict       bool
	attrs        map[string]*downlink
	rpcs         map[string]*downlink
	last         map[string]any     // sendDataOnlyOnChange: last value per key ("a:"/"t:" prefixed); reader goroutine only
	pyUp         codec.CallUplink   // converters.uplink, nil for the built-in conversion
	pyDown       codec.CallDownlink // converters.downlink, nil for the built-in conversion
}

type item struct {
	dev       *device
	telemetry bool
	report    *model.Strategy
	py        map[string]any // the item in the uplink converter's configs (pyUp only)
	canval.Item
}

type poll struct {
	key    string
	frame  socketcan.Frame
	once   bool
	period time.Duration
}

// downlink is a compiled attributeUpdates or serverSideRpc entry.
type downlink struct {
	cfg      Downlink // as written, for RPC parameter overrides
	route    route
	hasID    bool
	fd, brs  bool
	enc      *canval.Encoder
	encErr   error // the entry's data keys are invalid: it answers this error
	response bool
	py       map[string]any // the entry as the downlink converter gets it (pyDown only)
}

func compile(doc *conf.Doc, c *Config, log *slog.Logger) (*plan, error) {
	p := &plan{channel: c.Channel, byName: map[string]*device{}, routes: map[route][]*item{}, retryOn: true}
	if p.channel == "" {
		p.channel = defaultChannel
	}
	switch strings.ToLower(c.Interface) {
	case "", "socketcan", "socketcan_native", "socketcan_ctypes":
	default:
		return nil, doc.Errorf("interface", "%q is not supported: tbgw drives SocketCAN interfaces (\"socketcan\")", c.Interface)
	}
	if len(p.channel) >= 16 || strings.ContainsAny(p.channel, "/ \t") {
		return nil, doc.Errorf("channel", "%q is not a network interface name", p.channel)
	}
	if b := c.Backend; b != nil {
		p.fd = b.FD != nil && *b.FD
		p.recvOwn = b.ReceiveOwnMessages != nil && *b.ReceiveOwnMessages
		if b.Bitrate != nil || b.DataBitrate != nil {
			log.Info("the bit rate of a SocketCAN interface is set on the interface (ip link set " + p.channel + " type can bitrate ...), not by the connector; backend.bitrate ignored")
		}
	}
	if c.Reconnect != nil {
		p.retryOn = *c.Reconnect
	}
	period := defaultReconnectPeriod
	if c.ReconnectPeriod != nil {
		if *c.ReconnectPeriod <= 0 || *c.ReconnectPeriod > 86400 {
			return nil, doc.Errorf("reconnectPeriod", "want seconds between 0 and 86400, got %v", *c.ReconnectPeriod)
		}
		period = time.Duration(*c.ReconnectPeriod * float64(time.Second))
	}
	p.retry = backoff.Policy{Min: period, Max: period, Factor: 1, Jitter: -1}
	if c.ReconnectCount != nil {
		if *c.ReconnectCount < 0 {
			return nil, doc.Errorf("reconnectCount", "must not be negative")
		}
		p.retry.MaxTries = *c.ReconnectCount + 1
	}
	if len(c.Devices) == 0 {
		return nil, doc.Errorf("devices", "at least one device is required")
	}
	var raw struct {
		Devices []pyRawDevice `json:"devices"`
	}
	for i := range c.Devices {
		if c.Devices[i].Converters != nil && raw.Devices == nil {
			if err := decodeJSON(doc.Raw(), &raw); err != nil {
				return nil, err
			}
		}
	}
	for i := range c.Devices {
		var rd *pyRawDevice
		if i < len(raw.Devices) {
			rd = &raw.Devices[i]
		}
		if err := p.device(doc, fmt.Sprintf("devices[%d]", i), &c.Devices[i], rd, log); err != nil {
			return nil, err
		}
	}
	for r := range p.routes {
		p.filters = append(p.filters, socketcan.Filter{ID: r.id, Extended: r.ext})
	}
	return p, nil
}

// device compiles one device; rd is the device as written when it names
// converter classes.
func (p *plan) device(doc *conf.Doc, path string, d *Device, rd *pyRawDevice, log *slog.Logger) error {
	if d.Name == "" {
		return doc.Errorf(path+".name", "required")
	}
	if _, dup := p.byName[d.Name]; dup {
		return doc.Errorf(path+".name", "device %q is configured twice", d.Name)
	}
	dev := &device{
		name: d.Name, typ: d.Type,
		onlyOnChange: d.SendDataOnlyOnChange,
		unknownRPC:   d.EnableUnknownRPC,
		override:     d.OverrideRPCConfig || d.EnableUnknownRPC, // upstream: unknown RPCs imply overrides
		strict:       d.StrictEval == nil || *d.StrictEval,
		attrs:        map[string]*downlink{},
		rpcs:         map[string]*downlink{},
		last:         map[string]any{},
	}
	if dev.typ == "" {
		dev.typ = "default"
	}
	if err := converters(doc, path, d.Converters, dev, log); err != nil {
		return err
	}
	if rd == nil {
		rd = &pyRawDevice{}
	}
	devReport, err := d.ReportStrategy.Strategy()
	if err != nil {
		return doc.Errorf(path+".reportStrategy", "%v", err)
	}
	for _, list := range []struct {
		name      string
		items     []Item
		raw       []map[string]any
		telemetry bool
	}{{"attributes", d.Attributes, rd.Attributes, false}, {"timeseries", d.Timeseries, rd.Timeseries, true}, {"telemetry", d.Telemetry, rd.Telemetry, true}} {
		for j := range list.items {
			x, err := p.item(doc, fmt.Sprintf("%s.%s[%d]", path, list.name, j), &list.items[j], dev, list.telemetry, devReport)
			if err != nil {
				return err
			}
			if dev.pyUp != nil && j < len(list.raw) {
				x.py = pyItemConfig(list.raw[j], &list.items[j], x.Value, dev.strict, list.telemetry)
			}
		}
	}
	for j := range d.AttributeUpdates {
		jp := fmt.Sprintf("%s.attributeUpdates[%d]", path, j)
		a := &d.AttributeUpdates[j]
		name := a.AttributeOnThingsBoard
		if name == "" {
			name = a.Attribute
		}
		if name == "" {
			return doc.Errorf(jp+".attributeOnThingsBoard", "required")
		}
		dl, err := p.downlink(doc, jp, a, dev, rawAt(rd.AttributeUpdates, j), log)
		if err != nil {
			return err
		}
		dev.attrs[name] = dl
	}
	for j := range d.ServerSideRPC {
		jp := fmt.Sprintf("%s.serverSideRpc[%d]", path, j)
		r := &d.ServerSideRPC[j]
		if r.Method == "" {
			return doc.Errorf(jp+".method", "required")
		}
		dl, err := p.downlink(doc, jp, r, dev, rawAt(rd.ServerSideRPC, j), log)
		if err != nil {
			return err
		}
		dev.rpcs[r.Method] = dl
	}
	p.devices = append(p.devices, dev)
	p.byName[dev.name] = dev
	return nil
}

func rawAt(list []map[string]any, i int) map[string]any {
	if i < len(list) {
		return list[i]
	}
	return nil
}

func checkID(doc *conf.Doc, path string, id *int64, ext bool) (uint32, error) {
	if id == nil {
		return 0, doc.Errorf(path+".nodeId", "required")
	}
	limit := int64(0x7ff)
	if ext {
		limit = 0x1fffffff
	}
	if *id < 0 || *id > limit {
		hint := ""
		if !ext && *id <= 0x1fffffff {
			hint = " (set isExtendedId for a 29-bit identifier)"
		}
		return 0, doc.Errorf(path+".nodeId", "%d is outside 0..%d%s", *id, limit, hint)
	}
	return uint32(*id), nil
}

func (p *plan) item(doc *conf.Doc, path string, it *Item, dev *device, telemetry bool, devReport *model.Strategy) (*item, error) {
	if it.Key == "" {
		return nil, doc.Errorf(path+".key", "required")
	}
	id, err := checkID(doc, path, it.NodeID, it.IsExtendedID)
	if err != nil {
		return nil, err
	}
	if it.IsFD && !p.fd {
		return nil, doc.Errorf(path+".isFd", "CAN FD frames need \"backend\": {\"fd\": true}")
	}
	if len(it.Value) == 0 {
		return nil, doc.Errorf(path+".value", "required")
	}
	v, err := canval.ParseValueJSON(it.Value)
	if err != nil {
		return nil, doc.Errorf(path+".value", "%v", err)
	}
	x := &item{dev: dev, telemetry: telemetry, report: devReport, Item: canval.Item{Key: it.Key, Value: v}}
	if len(it.Command) > 0 && string(it.Command) != "null" && string(it.Command) != `""` {
		cmd, err := parseCommand(it.Command)
		if err != nil {
			return nil, doc.Errorf(path+".command", "%v", err)
		}
		x.Command = &cmd
	}
	if it.Expression != "" && dev.pyUp == nil { // a converter class evaluates its own expressions
		if x.Expr, err = canval.CompileExpr(it.Expression, dev.strict); err != nil {
			hint := ""
			if dev.strict && strings.Contains(err.Error(), "function") {
				hint = ` (the device has "strictEval": true, which allows no function calls)`
			}
			return nil, doc.Errorf(path+".expression", "%v%s", err, hint)
		}
	}
	if r, err := it.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	} else if r != nil {
		x.report = r
	}
	rt := route{id: id, ext: it.IsExtendedID}
	p.routes[rt] = append(p.routes[rt], x)
	if it.Polling != nil {
		pl, err := p.polling(doc, path+".polling", it, id)
		if err != nil {
			return nil, err
		}
		p.polls = append(p.polls, pl)
	}
	return x, nil
}

func parseCommand(raw []byte) (field.Command, error) {
	var s string
	if err := jsonUnmarshal(raw, &s); err == nil {
		return field.ParseCommand(s)
	}
	var o struct {
		Start, Length *int
		Byteorder     string
		Value         *uint64
	}
	if err := jsonUnmarshal(raw, &o); err != nil || o.Start == nil || o.Length == nil || o.Value == nil {
		return field.Command{}, fmt.Errorf("want \"start:length[:order]:value\" or an object with start, length, value")
	}
	spec := fmt.Sprintf("%d:%d", *o.Start, *o.Length)
	if o.Byteorder != "" {
		spec += ":" + o.Byteorder
	}
	return field.ParseCommand(fmt.Sprintf("%s:%d", spec, *o.Value))
}

func (p *plan) polling(doc *conf.Doc, path string, it *Item, id uint32) (poll, error) {
	pc := it.Polling
	pl := poll{key: it.Key, period: defaultPollPeriod}
	switch strings.ToLower(pc.Type) {
	case "", "always":
	case "once":
		pl.once = true
	default:
		return pl, doc.Errorf(path+".type", "want \"once\" or \"always\", got %q", pc.Type)
	}
	if pc.Period != nil {
		if *pc.Period <= 0 || *pc.Period > 86400 || math.IsNaN(*pc.Period) {
			return pl, doc.Errorf(path+".period", "want seconds between 0 and 86400, got %v", *pc.Period)
		}
		pl.period = time.Duration(*pc.Period * float64(time.Second))
	}
	data, err := field.ParseHex(pc.DataInHex)
	if err != nil {
		return pl, doc.Errorf(path+".dataInHex", "%v", err)
	}
	pl.frame, err = socketcan.NewFrame(id, it.IsExtendedID, it.IsFD, it.BitrateSwitch, data)
	if err != nil {
		return pl, doc.Errorf(path+".dataInHex", "%v", err)
	}
	return pl, nil
}

// downlink compiles an attributeUpdates/serverSideRpc entry. Invalid data
// keys do not stop the connector: upstream finds them only when the entry
// is used (its own can.json has an RPC with malformed dataInHex), so the
// entry answers the error then and a warning is logged now.
func (p *plan) downlink(doc *conf.Doc, path string, d *Downlink, dev *device, raw map[string]any, log *slog.Logger) (*downlink, error) {
	dl := &downlink{cfg: *d, fd: d.IsFD, brs: d.BitrateSwitch && d.IsFD, response: d.Response != nil && *d.Response}
	if d.NodeID != nil {
		id, err := checkID(doc, path, d.NodeID, d.IsExtendedID)
		if err != nil {
			return nil, err
		}
		dl.route, dl.hasID = route{id: id, ext: d.IsExtendedID}, true
	} else if !dev.override {
		return nil, doc.Errorf(path+".nodeId", "required (or enableUnknownRpc/overrideRpcConfig so that RPC params give it)")
	}
	if d.IsFD && !p.fd {
		return nil, doc.Errorf(path+".isFd", "CAN FD frames need \"backend\": {\"fd\": true}")
	}
	if dev.pyDown != nil {
		dl.py = pyEntryConfig(raw, dev.strict) // the converter reads the data keys
		return dl, nil
	}
	dl.enc, dl.encErr = newEncoder(d, dev.strict)
	if dl.encErr != nil {
		log.Warn(fmt.Sprintf("%s: %v; the entry will answer this error", doc.Pos(path), dl.encErr), "device", dev.name)
	}
	return dl, nil
}

func newEncoder(d *Downlink, strict bool) (*canval.Encoder, error) {
	c := canval.EncoderConfig{
		DataByteorder:  d.DataByteorder,
		DataSigned:     d.DataSigned,
		DataEncoding:   d.DataEncoding,
		DataExpression: d.DataExpression,
		DataBefore:     d.DataBefore,
		DataAfter:      d.DataAfter,
		DataInHex:      d.DataInHex,
		StrictEval:     strict,
	}
	if d.DataLength != nil {
		c.DataLength = *d.DataLength
		if c.DataLength <= 0 {
			return nil, fmt.Errorf("dataLength %d: want 1 to %d", c.DataLength, canval.MaxPayload)
		}
	}
	return canval.NewEncoder(c)
}
