package ble

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

// notifyQueue bounds the notifications waiting for the gateway per device.
const notifyQueue = 256

type notification struct {
	handle uint16
	value  []byte
}

type device struct {
	c    *Conn
	spec *deviceSpec
	seen chan struct{} // an advertising report of this device arrived

	mu     sync.Mutex
	client *bluetooth.Client
	up     chan struct{} // closed when client is set

	notes  chan notification
	waited bool // the first session waited for an advertising report

	dropWarned   time.Time // last warning about dropped notifications (mu)
	droppedSince uint64    // drops not yet in a warning (mu)
}

func newDevice(c *Conn, s *deviceSpec) *device {
	return &device{c: c, spec: s, seen: make(chan struct{}, 1), up: make(chan struct{}), notes: make(chan notification, notifyQueue)}
}

func (d *device) wake() {
	select {
	case d.seen <- struct{}{}:
	default:
	}
}

func (d *device) setClient(cl *bluetooth.Client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cl != nil && d.client == nil {
		d.client = cl
		close(d.up)
	} else if cl == nil && d.client != nil {
		d.client = nil
		d.up = make(chan struct{})
	}
}

// connected waits (until ctx ends) for the device's GATT connection.
func (d *device) connected(ctx context.Context) (*bluetooth.Client, error) {
	for {
		d.mu.Lock()
		cl, up := d.client, d.up
		d.mu.Unlock()
		if cl != nil {
			return cl, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, fmt.Errorf("device %s is not connected: %w", d.spec.addr, ctx.Err())
		}
	}
}

func (d *device) log(msg string, args ...any) {
	d.c.env.Log.Info(msg, append([]any{"device", d.spec.name}, args...)...)
}

// run serves the device until ctx ends: advertisement-only devices from
// the scanner's reports, others over a GATT connection that is re-made
// whenever it fails.
func (d *device) run(ctx context.Context, a *bluetooth.Adapter) error {
	if d.spec.advOnly() {
		return d.runAdv(ctx)
	}
	failures := 0
	for ctx.Err() == nil {
		up, err := d.session(ctx, a)
		if ctx.Err() != nil {
			return nil
		}
		var pe *kit.PanicError
		if errors.As(err, &pe) {
			return err
		}
		delay := d.spec.retryEvery + 200*time.Millisecond
		if up {
			failures = 0
			d.c.cnt.Add("linkLosses", 1)
			d.c.env.Log.Warn("connection lost; reconnecting", "device", d.spec.name, "err", err)
		} else {
			failures++
			d.c.cnt.Add("connectFailures", 1)
			d.c.env.Log.Warn("connect failed", "device", d.spec.name, "mac", d.spec.addr, "attempt", failures, "err", err)
			if failures%d.spec.connectRetry == 0 {
				delay += d.spec.waitAfterMany
			}
		}
		if backoff.Sleep(ctx, delay) != nil {
			return nil
		}
	}
	return nil
}

// runAdv sends the advertisement items of a device that is never
// connected: each new report, at most once per pollPeriod.
func (d *device) runAdv(ctx context.Context) error {
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.seen:
		}
		s, ok := d.c.sighting(d.spec.addr)
		if !ok || s.seq == last {
			continue
		}
		last = s.seq
		if err := d.sendAdv(ctx, s); err != nil {
			return err
		}
		if backoff.Sleep(ctx, d.spec.pollPeriod) != nil {
			return nil
		}
	}
}

func (d *device) sendAdv(ctx context.Context, s sighting) error {
	if d.spec.custom != nil {
		return d.customAdv(ctx, s)
	}
	data := connector.Data{Device: d.spec.name, Type: d.spec.typ}
	for _, it := range d.spec.items {
		if !it.adv {
			continue
		}
		v, ok, err := advValue(it, s.rssi, &s.data)
		if err != nil {
			d.c.cnt.Add("convertErrors", 1)
			d.c.env.Log.Debug("advertisement value", "device", d.spec.name, "key", it.key, "err", err)
		}
		if ok {
			d.add(&data, it, v)
		}
	}
	return d.emit(ctx, data)
}

func (d *device) add(data *connector.Data, it *item, v any) {
	p := connector.Point{Key: it.key, Value: v, Report: it.report}
	if it.attr {
		data.Attributes = append(data.Attributes, p)
	} else {
		data.Telemetry = append(data.Telemetry, p)
	}
}

func (d *device) emit(ctx context.Context, data connector.Data) error {
	if len(data.Attributes) == 0 && len(data.Telemetry) == 0 {
		return nil
	}
	return d.c.send.Send(ctx, []connector.Data{data})
}

// session connects, sets the device up and polls until the link fails.
// up tells whether the connection was made.
func (d *device) session(ctx context.Context, a *bluetooth.Adapter) (up bool, err error) {
	typ := d.spec.addrType
	if typ == 0 {
		typ = bluetooth.Public
		s, ok := d.c.sighting(d.spec.addr)
		if !ok && !d.waited {
			// The type is learnt from the device's advertising: the
			// first attempt waits up to timeout for a report rather
			// than dial a static random address as public (which
			// fails only after the whole timeout).
			d.waited = true
			wctx, cancel := context.WithTimeout(ctx, d.spec.timeout)
			select {
			case <-d.seen:
			case <-wctx.Done():
			}
			cancel()
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			s, ok = d.c.sighting(d.spec.addr)
		}
		if ok {
			typ = s.typ
		}
	}
	dctx, cancel := context.WithTimeout(ctx, d.spec.timeout)
	start := time.Now()
	ch, err := a.Dial(dctx, d.spec.addr, typ)
	cancel()
	if err != nil {
		return false, err
	}
	d.c.cnt.Add("connects", 1)
	d.log("connected", "mac", d.spec.addr, "addressType", typ, "in", time.Since(start).Round(time.Millisecond))
	for len(d.notes) > 0 { // values of the previous connection
		<-d.notes
	}
	cl := bluetooth.NewClient(ch, d.onValue)
	defer cl.Close()
	defer d.setClient(nil)
	g, gctx := kit.NewGroup(ctx)
	g.Go("gatt "+d.spec.name, func() error { return cl.Serve(gctx) })
	g.Go("session "+d.spec.name, func() error {
		defer cl.Close()
		if err := d.setup(gctx, cl); err != nil {
			return err
		}
		return d.poll(gctx, cl)
	})
	var kdrops uint64 // the kernel's drop count of ch, as last read
	g.Go("notifications "+d.spec.name, func() error { return d.uplink(gctx, ch, &kdrops) })
	err = g.Wait()
	d.kernelDrops(ch, &kdrops)
	if err == nil {
		err = cl.Err()
	}
	if err == nil && ctx.Err() == nil {
		err = bluetooth.ErrLinkLost
	}
	return true, err
}

func (d *device) onValue(h uint16, v []byte) {
	select {
	case d.notes <- notification{h, v}:
		d.c.cnt.Add("notifications", 1)
	default:
		d.c.cnt.Add("notificationsDropped", 1)
		d.warnDrops("the connector's queue is full", 1)
	}
}

// kernelDrops adds the notifications the kernel dropped on ch since the
// last call (its receive buffer was full) to notificationsDroppedKernel.
func (d *device) kernelDrops(ch *bluetooth.Channel, last *uint64) {
	n, err := ch.Drops()
	if err != nil || n <= *last {
		return
	}
	d.c.cnt.Add("notificationsDroppedKernel", n-*last)
	d.warnDrops("the kernel's socket buffer was full", n-*last)
	*last = n
}

// warnDrops logs dropped notifications, at most once every 10 s per
// device (the counters have them all).
func (d *device) warnDrops(why string, n uint64) {
	now := time.Now()
	d.mu.Lock()
	d.droppedSince += n
	if now.Sub(d.dropWarned) < 10*time.Second {
		d.mu.Unlock()
		return
	}
	d.dropWarned, n, d.droppedSince = now, d.droppedSince, 0
	d.mu.Unlock()
	d.c.env.Log.Warn("notifications dropped: the gateway does not keep up with the device", "device", d.spec.name,
		"dropped", n, "reason", why)
}

// uplink converts and sends queued notifications, batching what queued
// up while the previous batch was being stored. After each batch it
// counts what the kernel dropped on ch.
func (d *device) uplink(ctx context.Context, ch *bluetooth.Channel, kdrops *uint64) error {
	var batch []connector.Data
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-d.notes:
			batch = d.appendNotify(batch[:0], n)
		more:
			for len(batch) < 64 {
				select {
				case n := <-d.notes:
					batch = d.appendNotify(batch, n)
				default:
					break more
				}
			}
		}
		out := batch[:0]
		for _, b := range batch {
			if len(b.Telemetry)+len(b.Attributes) > 0 {
				out = append(out, b)
			}
		}
		if len(out) > 0 {
			if err := d.c.send.Send(ctx, out); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		d.kernelDrops(ch, kdrops)
	}
}

// notifiedBy reports whether it is a notified item carried by the
// characteristic value handle.
func (d *device) notifiedBy(it *item, handle uint16) bool {
	if it.adv || !it.notify || it.handle != 0 && it.handle != handle {
		return false
	}
	if it.handle != 0 {
		return true
	}
	d.mu.Lock()
	cl := d.client
	d.mu.Unlock()
	if cl == nil {
		return false
	}
	ch := cl.Find(it.uuid)
	return ch != nil && ch.Value == handle
}

func (d *device) notifyData(n notification) connector.Data {
	data := connector.Data{Device: d.spec.name, Type: d.spec.typ}
	for _, it := range d.spec.items {
		if !d.notifiedBy(it, n.handle) {
			continue
		}
		v, err := convert(it, n.value)
		if err != nil {
			d.c.cnt.Add("convertErrors", 1)
			d.c.env.Log.Warn("converting a notification", "device", d.spec.name, "key", it.key, "err", err)
			continue
		}
		d.add(&data, it, v)
	}
	return data
}

// characteristic finds an item's characteristic on the connected device.
func (d *device) characteristic(cl *bluetooth.Client, it *item) *bluetooth.Characteristic {
	if it.handle != 0 {
		return cl.ByHandle(it.handle)
	}
	return cl.Find(it.uuid)
}

func (d *device) setup(ctx context.Context, cl *bluetooth.Client) error {
	sctx, cancel := context.WithTimeout(ctx, d.spec.timeout+5*time.Second)
	defer cancel()
	var e *att.ErrorRsp
	if err := cl.ExchangeMTU(sctx, att.MaxMTU); err != nil && !errors.As(err, &e) {
		return fmt.Errorf("MTU exchange: %w", err)
	}
	if err := cl.Discover(sctx); err != nil {
		return err
	}
	// Notifications are matched to items through the discovered handles:
	// publish the client before subscribing, so the first notification
	// finds it.
	d.setClient(cl)
	subscribed := map[uint16]bool{}
	for _, it := range d.spec.items {
		if it.adv || !it.notify {
			continue
		}
		ch := d.characteristic(cl, it)
		if ch == nil {
			d.c.env.Log.Error("characteristic not found", "device", d.spec.name, "key", it.key, "characteristic", d.itemRef(it))
			continue
		}
		if subscribed[ch.Value] {
			continue
		}
		if err := cl.Subscribe(sctx, ch); err != nil {
			if errors.As(err, &e) {
				d.c.env.Log.Error("cannot subscribe", "device", d.spec.name, "key", it.key, "err", err)
				continue
			}
			return fmt.Errorf("subscribe to %v: %w", ch.UUID, err)
		}
		subscribed[ch.Value] = true
	}
	if d.spec.showMap {
		d.c.env.Log.Info(d.gattMap(sctx, cl))
	}
	return nil
}

func (d *device) itemRef(it *item) string {
	if it.handle != 0 {
		return fmt.Sprintf("handle 0x%04x", it.handle)
	}
	return it.uuid.String()
}

// poll reads the "read" items (and sends advertisement items) every
// pollPeriod, first at once.
func (d *device) poll(ctx context.Context, cl *bluetooth.Client) error {
	var reads []*item
	hasAdv := false
	for _, it := range d.spec.items {
		if it.adv {
			hasAdv = true
		} else if !it.notify {
			reads = append(reads, it)
		}
	}
	if len(reads) == 0 && !hasAdv {
		<-ctx.Done()
		return nil
	}
	var lastAdv uint64
	for {
		data := connector.Data{Device: d.spec.name, Type: d.spec.typ}
		var raws []rawValue // for the device's converter class
		for _, it := range reads {
			ch := d.characteristic(cl, it)
			if ch == nil {
				d.c.env.Log.Error("characteristic not found", "device", d.spec.name, "key", it.key, "characteristic", d.itemRef(it))
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, d.spec.timeout)
			v, err := cl.Read(rctx, ch.Value)
			cancel()
			var e *att.ErrorRsp
			if errors.As(err, &e) {
				d.c.env.Log.Error("read refused", "device", d.spec.name, "key", it.key, "err", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", it.key, err)
			}
			d.c.cnt.Add("reads", 1)
			if d.spec.custom != nil {
				raws = append(raws, rawValue{it, v})
				continue
			}
			val, err := convert(it, v)
			if err != nil {
				d.c.cnt.Add("convertErrors", 1)
				d.c.env.Log.Warn("converting a read value", "device", d.spec.name, "key", it.key, "err", err)
				continue
			}
			d.add(&data, it, val)
		}
		if err := d.emit(ctx, data); err != nil {
			return err
		}
		if err := d.customReads(ctx, raws); err != nil {
			return err
		}
		if hasAdv {
			if s, ok := d.c.sighting(d.spec.addr); ok && s.seq != lastAdv {
				lastAdv = s.seq
				if err := d.sendAdv(ctx, s); err != nil {
					return err
				}
			}
		}
		if backoff.Sleep(ctx, d.spec.pollPeriod) != nil {
			return nil
		}
	}
}

// write writes value to the characteristic uuid, waiting for the
// connection until ctx ends.
func (d *device) write(ctx context.Context, uuid att.UUID, value []byte, withResponse bool) error {
	cl, err := d.connected(ctx)
	if err != nil {
		return err
	}
	ch := cl.Find(uuid)
	if ch == nil {
		return fmt.Errorf("characteristic %v not found on %s", uuid, d.spec.name)
	}
	if err := cl.Write(ctx, ch.Value, value, withResponse); err != nil {
		return err
	}
	d.c.cnt.Add("writes", 1)
	return nil
}

// read reads the characteristic uuid.
func (d *device) read(ctx context.Context, uuid att.UUID) ([]byte, error) {
	cl, err := d.connected(ctx)
	if err != nil {
		return nil, err
	}
	ch := cl.Find(uuid)
	if ch == nil {
		return nil, fmt.Errorf("characteristic %v not found on %s", uuid, d.spec.name)
	}
	return cl.Read(ctx, ch.Value)
}

// gattMap describes the device's services and characteristics with their
// readable values (upstream's device "showMap" and the "scan" RPC).
func (d *device) gattMap(ctx context.Context, cl *bluetooth.Client) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MAP FOR %s", strings.ToUpper(d.spec.name))
	for _, s := range cl.Services {
		fmt.Fprintf(&b, "\n| [Service] %v (handles 0x%04x-0x%04x)", s.UUID, s.Start, s.End)
		for _, ch := range s.Characteristics {
			fmt.Fprintf(&b, "\n| \t[Characteristic] %v (handle 0x%04x) (%v)", ch.UUID, ch.Value, ch.Props)
			if ch.Props&att.PropRead != 0 {
				rctx, cancel := context.WithTimeout(ctx, d.spec.timeout)
				v, err := cl.Read(rctx, ch.Value)
				cancel()
				if err != nil {
					fmt.Fprintf(&b, ", Value: %v", err)
				} else {
					fmt.Fprintf(&b, ", Value: %q", v)
				}
			}
			if ch.CCCD != 0 {
				fmt.Fprintf(&b, "\n| \t\t[Descriptor] %v (handle 0x%04x)", att.ClientConfig, ch.CCCD)
			}
		}
	}
	return b.String()
}
