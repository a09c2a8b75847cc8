package bacnet

import (
	"context"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec/bacnet"
)

// covSub is one SubscribeCOV (prop nil) or SubscribeCOVProperty the
// gateway holds.
type covSub struct {
	id      uint32
	dev     *device
	obj     bacnet.ObjectID
	prop    *bacnet.PropertyRef
	renewAt time.Time
}

// covers lists the properties a subscription delivers.
func (s *covSub) covers() []bacnet.PropertyID {
	if s.prop != nil {
		return []bacnet.PropertyID{s.prop.Property}
	}
	return covProps
}

func (s *covSub) String() string {
	if s.prop != nil {
		return s.obj.String() + " " + s.prop.Property.String()
	}
	return s.obj.String()
}

// covTable holds the live subscriptions by subscriber process identifier.
type covTable struct {
	mu   sync.Mutex
	next uint32
	byID map[uint32]*covSub
	wake chan struct{}
}

func newCOVTable() *covTable {
	return &covTable{next: 1, byID: map[uint32]*covSub{}, wake: make(chan struct{}, 1)}
}

func (t *covTable) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// covProps are the properties a SubscribeCOV delivers.
var covProps = []bacnet.PropertyID{bacnet.PropPresentValue, bacnet.PropStatusFlags}

// subscribeDevice subscribes COV for the objects of groups that want it
// and are not subscribed yet: SubscribeCOV where an item reads
// presentValue or statusFlags, SubscribeCOVProperty for each other
// property an item reads (not those only naming a key). What the device
// refuses stays polled.
func (c *Connector) subscribeDevice(ctx context.Context, d *device, groups []*group) {
	cl, ok := c.live()
	if !ok {
		return
	}
	type want struct {
		obj   bacnet.ObjectID
		prop  bacnet.PropertyID // 0 with whole: SubscribeCOV
		whole bool
	}
	seen := map[want]bool{}
	var order []want
	for _, g := range groups {
		on := d.plan.cov
		if g.it.cov != nil {
			on = *g.it.cov
		}
		if !on {
			continue
		}
		keyOnly := map[bacnet.PropertyID]bool{}
		for _, kp := range g.it.keyProps {
			keyOnly[kp] = true
		}
		for _, p := range g.props {
			w := want{obj: g.obj, prop: p}
			switch {
			case p == bacnet.PropPresentValue || p == bacnet.PropStatusFlags:
				w = want{obj: g.obj, whole: true}
			case p == bacnet.PropAll || keyOnly[p]:
				continue
			}
			if !seen[w] {
				seen[w] = true
				order = append(order, w)
			}
		}
	}
	t := c.cov
	for _, w := range order {
		s := &covSub{dev: d, obj: w.obj}
		if !w.whole {
			s.prop = &bacnet.PropertyRef{Property: w.prop, Index: bacnet.NoIndex}
		}
		t.mu.Lock()
		dup := false
		for _, o := range t.byID {
			dup = dup || (o.dev == d && o.obj == w.obj && (o.prop == nil) == w.whole && (w.whole || o.prop.Property == w.prop))
		}
		s.id = t.next
		if !dup {
			t.next++
		}
		t.mu.Unlock()
		if dup {
			continue
		}
		if err := c.subscribe(ctx, cl, s); err != nil {
			c.log.Info("bacnet: COV not available, polling instead", "device", d.name, "subscription", s.String(), "err", err)
			continue
		}
		t.mu.Lock()
		t.byID[s.id] = s
		t.mu.Unlock()
		d.mu.Lock()
		for _, p := range s.covers() {
			d.covered[objProp{s.obj, p}] = true
		}
		d.mu.Unlock()
		c.counters.Add("covSubscriptions", 1)
	}
	t.poke()
}

func (c *Connector) subscribe(ctx context.Context, cl *client, s *covSub) error {
	life := s.dev.plan.covLife
	service := byte(bacnet.ServiceSubscribeCOV)
	if s.prop != nil {
		service = bacnet.ServiceSubscribeCOVProperty
	}
	req := bacnet.AppendSubscribeCOV(nil, bacnet.SubscribeCOV{ProcessID: s.id, Object: s.obj, Lifetime: uint32(life / time.Second), Property: s.prop})
	if _, err := cl.request(ctx, s.dev.target(), service, req); err != nil {
		return err
	}
	s.renewAt = time.Now().Add(life / 2)
	return nil
}

// renewCOV renews subscriptions at half their lifetime. A subscription the
// device no longer accepts goes back to polling. No timer runs while
// there are no subscriptions.
func (c *Connector) renewCOV(ctx context.Context) error {
	t := c.cov
	cl, _ := c.live()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		t.mu.Lock()
		var next time.Time
		var due []*covSub
		now := time.Now()
		for _, s := range t.byID {
			if !s.renewAt.After(now) {
				due = append(due, s)
			} else if next.IsZero() || s.renewAt.Before(next) {
				next = s.renewAt
			}
		}
		t.mu.Unlock()
		for _, s := range due {
			if err := c.subscribe(ctx, cl, s); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				c.log.Warn("bacnet: COV renewal failed, polling instead", "device", s.dev.name, "subscription", s.String(), "err", err)
				c.dropSub(s)
				continue
			}
			c.counters.Add("covRenewals", 1)
			if next.IsZero() || s.renewAt.Before(next) {
				next = s.renewAt
			}
		}
		var tc <-chan time.Time
		if !next.IsZero() {
			if timer == nil {
				timer = time.NewTimer(time.Until(next))
			} else {
				timer.Reset(time.Until(next))
			}
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.wake:
		case <-tc:
		}
	}
}

func (c *Connector) dropSub(s *covSub) {
	c.cov.mu.Lock()
	delete(c.cov.byID, s.id)
	c.cov.mu.Unlock()
	s.dev.mu.Lock()
	for _, p := range s.covers() {
		delete(s.dev.covered, objProp{s.obj, p})
	}
	s.dev.mu.Unlock()
}

// cancelCOV tells devices the subscriptions end (best effort, no wait).
func (c *Connector) cancelCOV(cl *client) {
	c.cov.mu.Lock()
	defer c.cov.mu.Unlock()
	for id, s := range c.cov.byID {
		req := bacnet.AppendSubscribeCOV(nil, bacnet.SubscribeCOV{ProcessID: s.id, Object: s.obj, Cancel: true, Property: s.prop})
		tgt := s.dev.target()
		service := byte(bacnet.ServiceSubscribeCOV)
		if s.prop != nil {
			service = bacnet.ServiceSubscribeCOVProperty
		}
		_ = cl.send(tgt.peer, true, bacnet.APDU{Type: bacnet.PDUConfirmedRequest, InvokeID: uint8(id), Service: service,
			ServiceData: req, MaxAPDU: bacnet.EncodeMaxAPDU(c.plan.maxAPDU)})
		delete(c.cov.byID, id)
	}
}

// onCOV converts a COV notification of a subscription into datapoints.
func (c *Connector) onCOV(ctx context.Context, src peer, data []byte) {
	n, err := bacnet.DecodeCOVNotification(data)
	if err != nil {
		c.log.Debug("bacnet: malformed COV notification", "from", src, "err", err)
		return
	}
	c.cov.mu.Lock()
	s := c.cov.byID[n.ProcessID]
	c.cov.mu.Unlock()
	if s == nil || s.obj != n.Object || s.dev.instance != n.Device.Instance {
		c.counters.Add("covUnknown", 1)
		c.log.Debug("bacnet: COV notification for no subscription", "from", src, "process", n.ProcessID, "object", n.Object.String(), "device", n.Device.Instance)
		return
	}
	c.counters.Add("covNotifications", 1)
	d := s.dev
	rs := readSet{}
	for _, pv := range n.Values {
		rs.put(n.Object, pv.Property, result{vals: pv.Value})
	}
	d.mu.Lock()
	var groups []*group
	for _, g := range d.groups {
		if g.obj == n.Object {
			groups = append(groups, g)
		}
	}
	for p, r := range d.keyVals[n.Object] {
		if _, have := rs[n.Object][p]; !have {
			rs.put(n.Object, p, r)
		}
	}
	d.mu.Unlock()
	out := c.convertAll(d, rs, groups, c.env.Now().UnixMilli())
	k := 0
	for _, it := range out {
		k += len(it.Attributes) + len(it.Telemetry)
	}
	if k > 0 {
		c.counters.Add("datapoints", uint64(k))
		if err := c.sender.Send(ctx, out); err != nil && ctx.Err() == nil {
			c.log.Warn("bacnet: COV data not stored", "device", d.name, "err", err)
		}
	}
}
