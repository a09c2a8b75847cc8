package opcua

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/gw/connector"
)

// batch collects converted values per device, in first-seen order.
type batch struct {
	order []*device
	data  map[*device]*connector.Data
	n     int
	py    map[*device]*pyCall // values for devices with a Python converter
	pyOrd []*device
	extra []connector.Data // what Python converters returned
}

func newBatch() *batch { return &batch{data: map[*device]*connector.Data{}} }

func (b *batch) add(d *device, p connector.Point, attr bool) {
	cd := b.data[d]
	if cd == nil {
		cd = &connector.Data{Device: d.name, Type: d.profile}
		b.data[d] = cd
		b.order = append(b.order, d)
	}
	if attr {
		p.TS = 0
		cd.Attributes = append(cd.Attributes, p)
	} else {
		cd.Telemetry = append(cd.Telemetry, p)
	}
	b.n++
}

func (b *batch) items() []connector.Data {
	out := make([]connector.Data, 0, len(b.order))
	for _, d := range b.order {
		out = append(out, *b.data[d])
	}
	return append(out, b.extra...)
}

// addValue converts one data value of a bound datapoint.
func (b *batch) addValue(bp *boundPoint, dv *ua.DataValue) {
	if bp.dev.pyconv != nil {
		b.addPy(bp, dv)
		return
	}
	v, ok := dataValue(dv, bp.node)
	if !ok {
		return
	}
	p := connector.Point{Key: bp.spec.key, Value: v, Report: bp.spec.report}
	if p.Report == nil {
		p.Report = bp.dev.m.report
	}
	switch bp.spec.ts {
	case tsSource:
		if !dv.SourceTimestamp.IsZero() {
			p.TS = dv.SourceTimestamp.UnixMilli()
		}
	case tsServer:
		if !dv.ServerTimestamp.IsZero() {
			p.TS = dv.ServerTimestamp.UnixMilli()
		}
	}
	b.add(bp.dev, p, bp.spec.attr)
}

// constants sends the constant datapoints of devs.
func (c *Connector) sendConstants(ctx context.Context, sink connector.Sink, devs []*device) error {
	b := newBatch()
	for _, d := range devs {
		for _, p := range d.consts {
			r := p.report
			if r == nil {
				r = d.m.report
			}
			b.add(d, connector.Point{Key: p.key, Value: p.ref.text, Report: r}, p.attr)
		}
	}
	return c.send(ctx, sink, b)
}

// send hands a batch to the gateway. A full storage drops the batch and
// counts it (kit.Sender: subscriptions cannot be refused); other errors end
// the session loop.
func (c *Connector) send(ctx context.Context, _ connector.Sink, b *batch) error {
	c.convertPy(b)
	if b.n == 0 {
		return nil
	}
	return c.out.Load().Send(ctx, b.items())
}

// poller reads every datapoint each poll period.
type poller struct {
	points []*boundPoint
	nodes  []*ua.NodeID
}

func newPoller(devs []*device) *poller {
	p := &poller{}
	for _, d := range devs {
		for _, bp := range d.points {
			p.points = append(p.points, bp)
			p.nodes = append(p.nodes, bp.node)
		}
	}
	return p
}

func (c *Connector) poll(ctx context.Context, s *session, p *poller, sink connector.Sink) error {
	if len(p.nodes) == 0 {
		return nil
	}
	res, err := s.read(ctx, p.nodes)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	b := newBatch()
	for i, dv := range res {
		b.addValue(p.points[i], dv)
	}
	return c.send(ctx, sink, b)
}

// subscriber keeps one subscription with a monitored item per node.
type subscriber struct {
	sub     *opcua.Subscription
	notif   chan *opcua.PublishNotificationData
	byNode  map[string]uint32 // node id -> client handle
	items   map[uint32]*item
	next    uint32
	beat    uint32    // client handle of the heartbeat item
	lastMsg time.Time // last notification of any kind
	beating bool      // the heartbeat has been seen at least once
	seen    bool      // any notification has been seen
}

type item struct {
	node    *ua.NodeID
	monID   uint32 // 0 until the server accepted the item
	targets []*boundPoint
}

// notifQueue bounds notifications waiting for conversion; gopcua's publish
// loop blocks (and the server queues, then discards) beyond it.
const notifQueue = 8

func (c *Connector) subscribe(ctx context.Context, s *session) (*subscriber, error) {
	sb := &subscriber{
		notif:  make(chan *opcua.PublishNotificationData, notifQueue),
		byNode: map[string]uint32{},
		items:  map[uint32]*item{},
		next:   1,
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	sub, err := s.cl.Subscribe(rctx, &opcua.SubscriptionParameters{
		Interval:                   c.cfg.publishInterval,
		MaxNotificationsPerPublish: uint32(max(c.cfg.maxBatch, 100)),
	}, sb.notif)
	if err != nil {
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	sb.sub = sub
	sb.lastMsg = time.Now()
	// Heartbeat: the server's clock changes every second, so a healthy
	// subscription is never silent for long.
	sb.beat = sb.next
	sb.next++
	req := opcua.NewMonitoredItemCreateRequestWithDefaults(ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), ua.AttributeIDValue, sb.beat)
	req.RequestedParameters.SamplingInterval = 1000
	req.RequestedParameters.QueueSize = 1
	mctx, mcancel := s.ctx(ctx)
	defer mcancel()
	if res, err := sub.Monitor(mctx, ua.TimestampsToReturnNeither, req); err != nil {
		return nil, fmt.Errorf("monitor server clock: %w", err)
	} else if len(res.Results) == 1 && isBad(res.Results[0].StatusCode) {
		c.log.Debug("server clock not monitorable, no heartbeat", "status", statusName(res.Results[0].StatusCode))
	}
	return sb, nil
}

// sync makes the monitored items match the datapoints of devs: new nodes
// are monitored (and nodes the server refused before are retried), nodes
// no longer needed are dropped. It reports whether every node is monitored.
func (c *Connector) sync(ctx context.Context, s *session, sb *subscriber, devs []*device) (bool, error) {
	want := map[string][]*boundPoint{}
	nodes := map[string]*ua.NodeID{}
	for _, d := range devs {
		for _, bp := range d.points {
			k := bp.node.String()
			want[k] = append(want[k], bp)
			nodes[k] = bp.node
		}
	}
	// Drop items no longer wanted.
	var drop []uint32
	for k, h := range sb.byNode {
		if _, ok := want[k]; ok {
			continue
		}
		if it := sb.items[h]; it.monID != 0 {
			drop = append(drop, it.monID)
		}
		delete(sb.items, h)
		delete(sb.byNode, k)
	}
	for start := 0; start < len(drop); start += s.maxMonitor {
		end := min(start+s.maxMonitor, len(drop))
		rctx, cancel := s.ctx(ctx)
		_, err := sb.sub.Unmonitor(rctx, drop[start:end]...)
		cancel()
		if err != nil {
			return false, fmt.Errorf("delete monitored items: %w", err)
		}
	}
	// Update targets, collect nodes to monitor.
	var create []*ua.MonitoredItemCreateRequest
	var createItems []*item
	for k, targets := range want {
		h, ok := sb.byNode[k]
		if !ok {
			h = sb.next
			sb.next++
			sb.byNode[k] = h
			sb.items[h] = &item{node: nodes[k]}
		}
		it := sb.items[h]
		it.targets = targets
		if it.monID == 0 {
			req := opcua.NewMonitoredItemCreateRequestWithDefaults(it.node, ua.AttributeIDValue, h)
			req.RequestedParameters.QueueSize = 1
			create = append(create, req)
			createItems = append(createItems, it)
		}
	}
	complete := true
	failed := map[string]int{}
	for start := 0; start < len(create); start += s.maxMonitor {
		end := min(start+s.maxMonitor, len(create))
		rctx, cancel := s.ctx(ctx)
		res, err := sb.sub.Monitor(rctx, ua.TimestampsToReturnBoth, create[start:end]...)
		cancel()
		if err != nil {
			return false, fmt.Errorf("create monitored items: %w", err)
		}
		if len(res.Results) != end-start {
			return false, fmt.Errorf("create monitored items: %d results for %d items", len(res.Results), end-start)
		}
		for i, r := range res.Results {
			it := createItems[start+i]
			if isBad(r.StatusCode) {
				complete = false
				failed[statusName(r.StatusCode)]++
				c.log.Debug("node not monitored", "node", it.node.String(), "status", statusName(r.StatusCode))
				continue
			}
			it.monID = r.MonitoredItemID
		}
	}
	if len(failed) > 0 {
		c.log.Warn("some nodes could not be monitored, retrying on the next scan", "reasons", failed)
	}
	if len(create) > 0 {
		c.log.Info("monitoring nodes", "new", len(create)-sumCounts(failed), "total", len(sb.items))
	}
	return complete, nil
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// errSubscriptionLost makes the session loop re-create everything.
var errSubscriptionLost = errors.New("subscription lost")

// handle converts one publish notification into b. It returns an error
// when the subscription is gone.
func (sb *subscriber) handle(n *opcua.PublishNotificationData, b *batch) error {
	sb.lastMsg = time.Now()
	sb.seen = true
	if n.Error != nil {
		return fmt.Errorf("%w: %v", errSubscriptionLost, n.Error)
	}
	switch v := n.Value.(type) {
	case *ua.DataChangeNotification:
		for _, mi := range v.MonitoredItems {
			if mi == nil {
				continue
			}
			if mi.ClientHandle == sb.beat {
				sb.beating = true
				continue
			}
			it := sb.items[mi.ClientHandle]
			if it == nil {
				continue
			}
			for _, bp := range it.targets {
				b.addValue(bp, mi.Value)
			}
		}
	case *ua.StatusChangeNotification:
		if isBad(v.Status) {
			return fmt.Errorf("%w: status %s", errSubscriptionLost, statusName(v.Status))
		}
	}
	return nil
}
