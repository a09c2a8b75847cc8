package bacnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/drivers/kit/poll"
)

// whoIsTarget is where one Who-Is goes.
type whoIsTarget struct {
	unicast   netip.AddrPort // valid: to this device
	port      uint16         // broadcast: UDP port
	dnet      uint16         // remote network (GlobalNetwork: all)
	dadr      string
	hasRange  bool
	low, high uint32
}

// whoIsTargets derives the Who-Is requests of the configuration, without
// duplicates.
func (c *Connector) whoIsTargets() []whoIsTarget {
	seen := map[whoIsTarget]bool{}
	var out []whoIsTarget
	for _, d := range c.plan.devices {
		t := whoIsTarget{port: DefaultPort}
		if d.hasIDs {
			if id, ok := d.ids.single(); ok {
				t.hasRange, t.low, t.high = true, id, id
			} else if !d.ids.any {
				t.hasRange = true
				t.low, t.high = d.ids.bounds()
			}
		}
		switch {
		case !d.hasAddr:
			t.dnet = bacnet.GlobalNetwork
		case d.addr.any:
			t.dnet = bacnet.GlobalNetwork
		case d.addr.routed:
			t.dnet = d.addr.net
			if d.addr.anyNet {
				t.dnet = bacnet.GlobalNetwork
			} else if !d.addr.anyMAC {
				t.dadr = string(d.addr.mac)
			}
		default:
			if ap, ok := d.addr.exact(); ok {
				t.unicast = ap
			} else if d.addr.port != 0 {
				t.port = uint16(d.addr.port)
			}
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// discover registers as a foreign device when configured, then sends the
// Who-Is requests every devicesDiscoverPeriodSeconds.
func (c *Connector) discover(ctx context.Context) error {
	cl, _ := c.live()
	targets := c.whoIsTargets()
	var nextFD time.Time
	bo := backoff.Policy{Min: time.Second, Max: time.Minute}.New()
	for {
		if cl.foreign.IsValid() && !time.Now().Before(nextFD) {
			if err := cl.registerForeign(ctx, c.plan.foreignTTL); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				c.log.Warn("bacnet: foreign device registration failed", "bbmd", cl.foreign, "err", err)
				nextFD = time.Now().Add(bo.Next())
			} else {
				c.counters.Add("foreignRegistrations", 1)
				bo.Reset()
				// Re-register at half the TTL (the BBMD adds a 30 s grace).
				nextFD = time.Now().Add(max(c.plan.foreignTTL/2, time.Second))
			}
		}
		for _, t := range targets {
			if err := c.sendWhoIs(cl, t); err != nil {
				c.log.Warn("bacnet: Who-Is", "err", err)
			}
		}
		c.counters.Add("whoIs", uint64(len(targets)))
		wait := c.plan.discoverPeriod
		if cl.foreign.IsValid() {
			wait = min(wait, time.Until(nextFD))
		}
		if err := backoff.Sleep(ctx, max(wait, 10*time.Millisecond)); err != nil {
			return nil
		}
	}
}

func (c *Connector) sendWhoIs(cl *client, t whoIsTarget) error {
	a := bacnet.APDU{Type: bacnet.PDUUnconfirmedRequest, Service: bacnet.ServiceWhoIs,
		ServiceData: bacnet.AppendWhoIs(nil, bacnet.WhoIs{HasRange: t.hasRange, Low: t.low, High: t.high})}
	if t.unicast.IsValid() {
		return cl.send(peer{ip: t.unicast}, false, a)
	}
	var dadr []byte
	if t.dadr != "" {
		dadr = []byte(t.dadr)
	}
	return cl.broadcastTo(t.port, t.dnet, dadr, a)
}

// onIAm binds a device that announced itself to every configuration it
// matches, or refreshes its address.
func (c *Connector) onIAm(ctx context.Context, src peer, data []byte) {
	iam, err := bacnet.DecodeIAm(data)
	if err != nil {
		c.log.Debug("bacnet: malformed I-Am", "from", src, "err", err)
		return
	}
	c.counters.Add("iAm", 1)
	for _, dp := range c.plan.devices {
		if !matches(dp, src, iam.Device.Instance) {
			continue
		}
		k := devKey{dp.index, iam.Device.Instance}
		tgt := target{peer: src, maxAPDU: int(min(iam.MaxAPDU, 1476)), seg: iam.Segmentation}
		c.mu.Lock()
		d, busy, refused := c.byKey[k], c.adding[k], c.refused[k]
		if d == nil && !busy && !refused {
			c.adding[k] = true
		}
		c.mu.Unlock()
		if d != nil {
			d.mu.Lock()
			if d.tgt.peer != src {
				c.log.Info("bacnet: device moved", "device", d.name, "from", d.tgt.peer, "to", src)
			}
			d.tgt = tgt
			d.mu.Unlock()
			continue
		}
		if busy || refused {
			continue
		}
		// Reading what the name needs takes a round trip (or a timeout):
		// do it aside, a bounded number at a time, so notifications and
		// other announcements keep flowing.
		dp := dp
		c.group.Go("bacnet add device", func() error {
			select {
			case c.addSlots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			defer func() { <-c.addSlots }()
			err := c.addDevice(ctx, dp, iam, tgt)
			c.mu.Lock()
			delete(c.adding, k)
			if err != nil && ctx.Err() == nil && !errors.Is(err, errTimeout) {
				c.refused[k] = true // e.g. a duplicate name: say it once
			}
			c.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				c.log.Warn("bacnet: device not added", "config", dp.path, "instance", iam.Device.Instance, "address", src, "err", err)
			}
			return nil
		})
	}
}

func matches(dp *devicePlan, src peer, instance uint32) bool {
	if dp.hasIDs {
		if !dp.ids.match(instance) {
			return false
		}
		if !dp.hasAddr {
			return true
		}
	}
	if dp.addr.match(src) {
		return true
	}
	for _, a := range dp.alt {
		if a.match(src) {
			return true
		}
	}
	return false
}

// addDevice reads what the device's name needs, resolves its objects and
// schedules its polls.
func (c *Connector) addDevice(ctx context.Context, dp *devicePlan, iam bacnet.IAm, tgt target) error {
	// Properties per ReadPropertyMultiple: about 20 octets of answer
	// each; twice as many when the answer may come segmented. A batch the
	// device cannot answer is halved later.
	per := max(min(tgt.maxAPDU, c.plan.maxAPDU)/20, 2)
	if tgt.seg.CanTransmit() && c.plan.seg.CanReceive() {
		per *= 2
	}
	d := &device{plan: dp, instance: iam.Device.Instance, vendorID: iam.VendorID, tgt: tgt, perBatch: per, covered: map[objProp]bool{}}
	objectName := ""
	if dp.name.uses("objectName") || dp.profile.uses("objectName") {
		vals, err := c.readProperty(ctx, tgt, iam.Device, bacnet.PropObjectName, bacnet.NoIndex)
		switch {
		case err == nil && len(vals) == 1:
			objectName = text(vals)
		case errors.Is(err, errTimeout) || ctx.Err() != nil:
			return err // try again at the next I-Am
		default:
			c.log.Warn("bacnet: device objectName not read; its instance number stands in", "instance", iam.Device.Instance, "err", err)
			objectName = fmt.Sprint(iam.Device.Instance)
		}
	}
	d.vars = deviceVars(iam.Device.Instance, iam.VendorID, objectName, tgt.peer)
	d.name = dp.name.eval(d.vars)
	d.profile = dp.profile.eval(d.vars)
	if d.name == "" {
		return fmt.Errorf("empty device name")
	}
	if dp.py != nil {
		var err error
		if d.pyconv, err = dp.py.converter(d); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if other, dup := c.byName[d.name]; dup {
		c.mu.Unlock()
		return fmt.Errorf("name %q is already used by device %d (%s)", d.name, other.instance, other.plan.path)
	}
	c.byKey[devKey{dp.index, d.instance}] = d
	c.byName[d.name] = d
	sched := c.sched
	c.mu.Unlock()
	c.log.Info("bacnet: device found", "device", d.name, "instance", d.instance, "address", tgt.peer, "config", dp.path)
	if len(dp.items) == 0 && !dp.allAttrs && !dp.allTS {
		// Nothing to read: announce it so downlink can reach it.
		_ = c.sender.Sink().Connect(ctx, d.name, d.profile)
		return nil
	}
	sched.Add(poll.Job{Name: d.name, Type: d.profile, Period: dp.poll, Poll: func(ctx context.Context) error {
		return c.pollDevice(ctx, d)
	}})
	return nil
}

// pollDevice reads a device once and sends what it read.
func (c *Connector) pollDevice(ctx context.Context, d *device) error {
	if err := c.resolve(ctx, d); err != nil {
		return err
	}
	d.mu.Lock()
	groups, covered := d.groups, d.covered
	all := specs(groups, covered)
	d.mu.Unlock()
	if len(all) == 0 {
		return nil // everything arrives by COV
	}
	ts := c.env.Now().UnixMilli()
	rs, err := c.read(ctx, d, all)
	if err != nil {
		return err
	}
	c.counters.Add("polls", 1)
	d.mu.Lock()
	d.keyVals = readSet{}
	for _, g := range groups {
		for _, kp := range g.it.keyProps {
			if r, ok := rs[g.obj][kp]; ok && r.err == nil {
				d.keyVals.put(g.obj, kp, r)
			}
		}
	}
	d.mu.Unlock()
	items := c.convertAll(d, rs, groups, ts)
	n := 0
	for _, it := range items {
		n += len(it.Attributes) + len(it.Telemetry)
	}
	if n == 0 {
		return nil
	}
	c.counters.Add("datapoints", uint64(n))
	return c.sender.Send(ctx, items)
}

// resolve expands the device's items into (item, object) groups, reading
// its object list when an item or section asks for "*". It runs on the
// first poll and again every devicesRescanObjectsPeriodSeconds.
func (c *Connector) resolve(ctx context.Context, d *device) error {
	d.mu.Lock()
	rescan := c.plan.rescanPeriod
	if d.plan.rescan > 0 {
		rescan = d.plan.rescan
	}
	fresh := !d.resolved.IsZero() && (c.env.Now().Sub(d.resolved) < rescan || !d.needsList())
	d.mu.Unlock()
	if fresh {
		return nil
	}
	var list []bacnet.ObjectID
	if d.needsList() {
		var err error
		if list, err = c.objectList(ctx, d); err != nil {
			return err
		}
	}
	var groups []*group
	for _, it := range d.plan.items {
		objs := it.fixedObjects()
		if it.needsObjectList() {
			objs = nil
			for _, o := range list {
				if it.matchesObject(o) {
					objs = append(objs, o)
				}
			}
		}
		props := it.props
		if it.anyProp {
			props = []bacnet.PropertyID{bacnet.PropAll}
		}
		for _, o := range objs {
			groups = append(groups, &group{it: it, obj: o, props: props})
		}
	}
	for _, sec := range []struct {
		on   bool
		attr bool
	}{{d.plan.allAttrs, true}, {d.plan.allTS, false}} {
		if !sec.on {
			continue
		}
		it := &item{key: "${objectName}", attr: sec.attr, props: []bacnet.PropertyID{bacnet.PropObjectName, bacnet.PropPresentValue},
			keyProps: []bacnet.PropertyID{bacnet.PropObjectName}, report: d.plan.report}
		for _, o := range list {
			if o.Type == bacnet.DeviceType {
				continue
			}
			groups = append(groups, &group{it: it, obj: o, props: it.props})
		}
	}
	d.mu.Lock()
	d.groups = groups
	d.resolved = c.env.Now()
	d.mu.Unlock()
	if d.plan.cov {
		c.subscribeDevice(ctx, d, groups)
	}
	return nil
}

func (d *device) needsList() bool {
	if d.plan.allAttrs || d.plan.allTS {
		return true
	}
	for _, it := range d.plan.items {
		if it.needsObjectList() {
			return true
		}
	}
	return false
}

// objectList reads the device's objectList: whole, or element by element
// when the whole list does not fit an APDU the device can send.
func (c *Connector) objectList(ctx context.Context, d *device) ([]bacnet.ObjectID, error) {
	tgt := d.target()
	dev := bacnet.ObjectID{Type: bacnet.DeviceType, Instance: d.instance}
	vals, err := c.readProperty(ctx, tgt, dev, bacnet.PropObjectList, bacnet.NoIndex)
	if err == nil {
		return objectIDs(vals), nil
	}
	if errors.Is(err, errTimeout) || ctx.Err() != nil {
		return nil, err
	}
	if !tooLong(err) {
		return nil, fmt.Errorf("device %s: objectList: %w", d.name, err)
	}
	vals, err = c.readProperty(ctx, tgt, dev, bacnet.PropObjectList, 0)
	if err != nil || len(vals) != 1 {
		return nil, fmt.Errorf("device %s: objectList length: %v", d.name, err)
	}
	n, ok := vals[0].(uint64)
	if !ok || n > 100000 {
		return nil, fmt.Errorf("device %s: objectList length %v", d.name, vals[0])
	}
	var out []bacnet.ObjectID
	for i := uint32(1); i <= uint32(n); i++ {
		v, err := c.readProperty(ctx, tgt, dev, bacnet.PropObjectList, i)
		if err != nil {
			return nil, fmt.Errorf("device %s: objectList[%d]: %w", d.name, i, err)
		}
		out = append(out, objectIDs(v)...)
	}
	return out, nil
}

func objectIDs(vals []bacnet.Value) []bacnet.ObjectID {
	var out []bacnet.ObjectID
	for _, v := range vals {
		if o, ok := v.(bacnet.ObjectID); ok {
			out = append(out, o)
		}
	}
	return out
}

// answerWhoIs announces the gateway's own device object.
func (c *Connector) answerWhoIs(src peer, data []byte) {
	w, err := bacnet.DecodeWhoIs(data)
	if err != nil || !w.Matches(c.plan.self.Instance) {
		return
	}
	cl, ok := c.live()
	if !ok {
		return
	}
	a := bacnet.APDU{Type: bacnet.PDUUnconfirmedRequest, Service: bacnet.ServiceIAm, ServiceData: bacnet.AppendIAm(nil, bacnet.IAm{
		Device: c.plan.self, MaxAPDU: uint64(c.plan.maxAPDU), Segmentation: c.plan.seg, VendorID: c.plan.vendorID})}
	_ = cl.send(src, false, a)
}

// serveOwn answers ReadProperty for the gateway's own device object.
func (c *Connector) serveOwn(src peer, a bacnet.APDU) (bacnet.APDU, bool) {
	if a.Service != bacnet.ServiceReadProperty {
		return bacnet.APDU{}, false
	}
	q, err := bacnet.DecodeReadProperty(a.ServiceData)
	if err != nil {
		return bacnet.APDU{Type: bacnet.PDUReject, InvokeID: a.InvokeID, Reason: 4}, true
	}
	errResp := func(cls, code uint32) (bacnet.APDU, bool) {
		return bacnet.APDU{Type: bacnet.PDUError, InvokeID: a.InvokeID, Service: a.Service,
			ServiceData: bacnet.AppendError(nil, bacnet.Error{Class: cls, Code: code})}, true
	}
	self := c.plan.self
	if q.Object != self && !(q.Object.Type == bacnet.DeviceType && q.Object.Instance == bacnet.MaxInstance) {
		return errResp(1, 31) // object: unknownObject
	}
	var v []bacnet.Value
	switch q.Property {
	case bacnet.PropObjectIdentifier:
		v = []bacnet.Value{self}
	case bacnet.PropObjectName:
		v = []bacnet.Value{c.plan.objectName}
	case bacnet.PropObjectType:
		v = []bacnet.Value{bacnet.Enumerated(bacnet.DeviceType)}
	case bacnet.PropVendorIdentifier:
		v = []bacnet.Value{c.plan.vendorID}
	case bacnet.PropVendorName:
		v = []bacnet.Value{"tbgw"}
	case bacnet.PropModelName:
		v = []bacnet.Value{"tbgw BACnet/IP gateway"}
	case bacnet.PropMaxAPDULength:
		v = []bacnet.Value{uint64(c.plan.maxAPDU)}
	case bacnet.PropSegmentationSupported:
		v = []bacnet.Value{bacnet.Enumerated(c.plan.seg)}
	case 98: // protocolVersion
		v = []bacnet.Value{uint64(1)}
	case 139: // protocolRevision
		v = []bacnet.Value{uint64(14)}
	case 112: // systemStatus: operational
		v = []bacnet.Value{bacnet.Enumerated(0)}
	case bacnet.PropObjectList:
		if q.Index == 0 {
			v = []bacnet.Value{uint64(1)}
		} else {
			v = []bacnet.Value{self}
		}
	default:
		return errResp(2, 32) // property: unknownProperty
	}
	q.Object = self
	data, err := bacnet.AppendReadPropertyACK(nil, bacnet.ReadPropertyACK{Object: q.Object, Property: q.Property, Index: q.Index, Value: v})
	if err != nil {
		return errResp(0, 0)
	}
	return bacnet.APDU{Type: bacnet.PDUComplexACK, InvokeID: a.InvokeID, Service: a.Service, ServiceData: data}, true
}
