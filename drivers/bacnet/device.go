package bacnet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/gw/connector"
)

// device is a discovered device bound to the configuration that matched it.
type device struct {
	plan     *devicePlan
	instance uint32
	vendorID uint64
	name     string // ThingsBoard device name
	profile  string
	vars     map[string]string // deviceInfo placeholders

	mu       sync.Mutex
	tgt      target
	groups   []*group // resolved items: one per (item, object)
	batches  [][]bacnet.ReadAccessSpec
	perBatch int  // properties per ReadPropertyMultiple; adapted on overflow
	noRPM    bool // device rejected ReadPropertyMultiple
	resolved time.Time
	covered  map[objProp]bool // delivered by COV subscriptions, not polled
	keyVals  readSet          // last values of key placeholder properties
	pyconv   codec.CallUplink // the device's Python converter (plan.py), nil for the built-in conversion
}

// objProp names one property of one object.
type objProp struct {
	obj  bacnet.ObjectID
	prop bacnet.PropertyID
}

// group is one configured item applied to one object.
type group struct {
	it  *item
	obj bacnet.ObjectID
	// props to read; for propertyId "*" it is {all} and the answer lists
	// every property.
	props []bacnet.PropertyID
}

func (d *device) target() target {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tgt
}

// result is what a read returned for one property: values or an error.
type result struct {
	vals []bacnet.Value
	err  error
}

// readSet holds the answers of one poll, by object and property.
type readSet map[bacnet.ObjectID]map[bacnet.PropertyID]result

func (r readSet) put(o bacnet.ObjectID, p bacnet.PropertyID, res result) {
	m := r[o]
	if m == nil {
		m = map[bacnet.PropertyID]result{}
		r[o] = m
	}
	m[p] = res
}

// convert turns the answers into datapoints the way upstream's converter
// does: a key's ${property} placeholders take that property's value; a
// single remaining property is reported under the key, several under
// "<key>.<property>".
func (d *device) convert(rs readSet, groups []*group, ts int64) connector.Data {
	out := connector.Data{Device: d.name, Type: d.profile}
	for _, g := range groups {
		vals := rs[g.obj]
		if vals == nil {
			continue
		}
		key := g.it.key
		var props []bacnet.PropertyID
		if g.it.anyProp {
			for p := range vals {
				props = append(props, p)
			}
			sort.Slice(props, func(i, j int) bool { return props[i] < props[j] })
		} else {
			props = g.it.props
		}
		used := map[bacnet.PropertyID]bool{}
		for _, kp := range g.it.keyProps {
			if r, ok := vals[kp]; ok && r.err == nil {
				key = strings.ReplaceAll(key, "${"+kp.String()+"}", text(r.vals))
				used[kp] = true
			}
		}
		var rest []bacnet.PropertyID
		for _, p := range props {
			if r, ok := vals[p]; ok && r.err == nil && !used[p] {
				rest = append(rest, p)
			}
		}
		for _, p := range rest {
			k := key
			if len(rest) > 1 {
				k = key + "." + p.String()
			}
			v, ok := datapoint(p, vals[p].vals)
			if !ok {
				continue
			}
			pt := codec.Point{Key: k, Value: v, Report: g.it.report}
			if pt.Report == nil {
				pt.Report = d.plan.report
			}
			if g.it.attr {
				out.Attributes = append(out.Attributes, pt)
			} else {
				pt.TS = ts
				out.Telemetry = append(out.Telemetry, pt)
			}
		}
	}
	return out
}

// specs builds the read access specifications of groups, one entry per
// object with its distinct properties, skipping what COV delivers.
func specs(groups []*group, covered map[objProp]bool) []bacnet.ReadAccessSpec {
	var order []bacnet.ObjectID
	props := map[bacnet.ObjectID][]bacnet.PropertyID{}
	for _, g := range groups {
		if _, seen := props[g.obj]; !seen {
			order = append(order, g.obj)
			props[g.obj] = nil
		}
		for _, p := range g.props {
			if covered[objProp{g.obj, p}] {
				continue
			}
			props[g.obj] = appendProp(props[g.obj], p)
		}
	}
	var out []bacnet.ReadAccessSpec
	for _, o := range order {
		if len(props[o]) == 0 {
			continue
		}
		s := bacnet.ReadAccessSpec{Object: o}
		for _, p := range props[o] {
			s.Properties = append(s.Properties, bacnet.PropertyRef{Property: p, Index: bacnet.NoIndex})
		}
		out = append(out, s)
	}
	return out
}

// batch splits specs into ReadPropertyMultiple requests of at most
// perBatch properties whose request fits maxReq octets. A spec larger
// than a batch is split by property.
func batch(all []bacnet.ReadAccessSpec, perBatch, maxReq int) [][]bacnet.ReadAccessSpec {
	var out [][]bacnet.ReadAccessSpec
	var cur []bacnet.ReadAccessSpec
	n, size := 0, 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, n, size = nil, 0, 0
	}
	for _, s := range all {
		for len(s.Properties) > 0 {
			room := perBatch - n
			if room <= 0 || size+16 > maxReq {
				flush()
				continue
			}
			take := min(room, len(s.Properties), max((maxReq-size-8)/5, 1))
			part := bacnet.ReadAccessSpec{Object: s.Object, Properties: s.Properties[:take]}
			s.Properties = s.Properties[take:]
			cur = append(cur, part)
			n += take
			size += len(bacnet.AppendReadAccessSpec(nil, part))
		}
	}
	flush()
	return out
}

// read performs one poll of the given specs: ReadPropertyMultiple in
// batches, halving a batch the device cannot answer in one APDU, or
// ReadProperty one by one for a device without ReadPropertyMultiple.
func (c *Connector) read(ctx context.Context, d *device, all []bacnet.ReadAccessSpec) (readSet, error) {
	tgt := d.target()
	rs := readSet{}
	d.mu.Lock()
	noRPM, per := d.noRPM, d.perBatch
	d.mu.Unlock()
	if noRPM {
		return rs, c.readEach(ctx, d, tgt, all, rs)
	}
	maxReq := min(tgt.maxAPDU, c.plan.maxAPDU) - 8
	queue := batch(all, per, maxReq)
	answered := false
	var firstErr error
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		c.counters.Add("requests", 1)
		data, err := c.client.request(ctx, tgt, bacnet.ServiceReadPropertyMultiple, bacnet.AppendReadPropertyMultiple(nil, b))
		if err == nil {
			res, derr := bacnet.DecodeReadPropertyMultipleACK(data)
			if derr != nil {
				return rs, fmt.Errorf("device %s: ReadPropertyMultiple answer: %w", d.name, derr)
			}
			answered = true
			for _, o := range res {
				for _, r := range o.Results {
					if r.Err != nil {
						rs.put(o.Object, r.Property, result{err: r.Err})
						continue
					}
					rs.put(o.Object, r.Property, result{vals: r.Value})
				}
			}
			continue
		}
		if ctx.Err() != nil {
			return rs, ctx.Err()
		}
		if tooLong(err) && count(b) > 1 {
			// Split the batch and remember the smaller size.
			h := count(b) / 2
			d.mu.Lock()
			d.perBatch = max(min(d.perBatch, h), 1)
			d.mu.Unlock()
			queue = append(batch(b, h, maxReq), queue...)
			continue
		}
		if noService(err) {
			c.log.Info("bacnet: device does not support ReadPropertyMultiple, reading properties one by one", "device", d.name)
			d.mu.Lock()
			d.noRPM = true
			d.mu.Unlock()
			rest := append(b, flatten(queue)...)
			return rs, c.readEach(ctx, d, tgt, rest, rs)
		}
		if errors.Is(err, errTimeout) {
			return rs, fmt.Errorf("device %s at %s: %w", d.name, tgt.peer, err)
		}
		// An error for the whole request (e.g. an unknown object in it):
		// read its properties one by one so the others still arrive.
		if !answered && firstErr == nil {
			firstErr = err
		}
		if err := c.readEach(ctx, d, tgt, b, rs); err != nil {
			return rs, err
		}
		answered = true
	}
	return rs, nil
}

func count(b []bacnet.ReadAccessSpec) int {
	n := 0
	for _, s := range b {
		n += len(s.Properties)
	}
	return n
}

func flatten(q [][]bacnet.ReadAccessSpec) []bacnet.ReadAccessSpec {
	var out []bacnet.ReadAccessSpec
	for _, b := range q {
		out = append(out, b...)
	}
	return out
}

// readEach reads properties one ReadProperty at a time.
func (c *Connector) readEach(ctx context.Context, d *device, tgt target, all []bacnet.ReadAccessSpec, rs readSet) error {
	answered := 0
	var last error
	for _, s := range all {
		for _, p := range s.Properties {
			c.counters.Add("requests", 1)
			vals, err := c.readProperty(ctx, tgt, s.Object, p.Property, p.Index)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, errTimeout) {
					return fmt.Errorf("device %s at %s: %w", d.name, tgt.peer, err)
				}
				rs.put(s.Object, p.Property, result{err: err})
				last = err
				continue
			}
			answered++
			rs.put(s.Object, p.Property, result{vals: vals})
		}
	}
	if answered == 0 && last != nil && !isBACnetError(last) {
		return last
	}
	return nil
}

func (c *Connector) readProperty(ctx context.Context, tgt target, obj bacnet.ObjectID, prop bacnet.PropertyID, index uint32) ([]bacnet.Value, error) {
	data, err := c.client.request(ctx, tgt, bacnet.ServiceReadProperty, bacnet.AppendReadProperty(nil, bacnet.ReadProperty{Object: obj, Property: prop, Index: index}))
	if err != nil {
		return nil, err
	}
	ack, err := bacnet.DecodeReadPropertyACK(data)
	if err != nil {
		return nil, fmt.Errorf("ReadProperty answer: %w", err)
	}
	return ack.Value, nil
}

// tooLong reports an answer that did not fit (the device needs a
// smaller request).
func tooLong(err error) bool {
	var ab *bacnet.AbortError
	if errors.As(err, &ab) {
		return ab.Reason == bacnet.AbortSegmentationNotSupported || ab.Reason == bacnet.AbortBufferOverflow ||
			ab.Reason == bacnet.AbortAPDUTooLong || ab.Reason == bacnet.AbortOutOfResources
	}
	var rj *bacnet.RejectError
	if errors.As(err, &rj) {
		return rj.Reason == 1 // bufferOverflow
	}
	var e *bacnet.Error
	if errors.As(err, &e) {
		return e.Code == 73 || e.Code == 3 // abortBufferOverflow, deviceBusy... conservative
	}
	return false
}

// noService reports that the device does not implement the service.
func noService(err error) bool {
	var rj *bacnet.RejectError
	if errors.As(err, &rj) {
		return rj.Reason == 9 // unrecognizedService
	}
	var e *bacnet.Error
	if errors.As(err, &e) {
		return e.Class == 5 && (e.Code == 29 || e.Code == 45) // services: serviceRequestDenied / optionalFunctionalityNotSupported
	}
	return false
}

func isBACnetError(err error) bool {
	var e *bacnet.Error
	var rj *bacnet.RejectError
	var ab *bacnet.AbortError
	return errors.As(err, &e) || errors.As(err, &rj) || errors.As(err, &ab)
}

// deviceVars are the deviceInfo placeholders of a discovered device.
func deviceVars(instance uint32, vendor uint64, objectName string, p peer) map[string]string {
	addr := p.ip.String()
	if p.net != 0 {
		addr = strconv.Itoa(int(p.net)) + ":" + formatMAC([]byte(p.mac))
	}
	v := map[string]string{
		"objectId": strconv.FormatUint(uint64(instance), 10), "vendorId": strconv.FormatUint(vendor, 10),
		"objectName": objectName, "address": addr, "deviceId": strconv.FormatUint(uint64(instance), 10),
	}
	if p.net != 0 {
		v["routerAddress"] = p.ip.String()
		v["networkNumber"] = strconv.Itoa(int(p.net))
	}
	return v
}
