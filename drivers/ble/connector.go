package ble

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/drivers/bluetooth"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("ble", New) }

// maxSightings bounds the table of advertisers seen by the scanner.
const maxSightings = 512

// Conn is a configured BLE connector.
type Conn struct {
	env     connector.Env
	spec    *spec
	devs    []*device
	byName  map[string]*device
	byAddr  map[bluetooth.Addr]*device
	running atomic.Bool
	cnt     kit.Counters
	adapter atomic.Pointer[bluetooth.Adapter]
	send    *kit.Sender

	mu     sync.Mutex
	seen   map[bluetooth.Addr]*sighting
	seqGen uint64
}

// sighting is the latest advertising report of one address.
type sighting struct {
	at   time.Time
	seq  uint64
	typ  bluetooth.AddrType
	rssi int8
	data adv.Data
}

// New builds the connector from its configuration file.
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	var cfg Config
	doc, err := kit.Setup("ble", raw, &env, &cfg)
	if err != nil {
		return nil, err
	}
	s, err := compile(doc, &cfg)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	c := &Conn{env: env, spec: s, byName: map[string]*device{}, byAddr: map[bluetooth.Addr]*device{},
		seen: map[bluetooth.Addr]*sighting{}}
	for _, ds := range s.devices {
		if ds.warning != "" {
			env.Log.Warn(ds.warning)
		}
		d := newDevice(c, ds)
		c.devs = append(c.devs, d)
		c.byName[ds.name] = d
		c.byAddr[ds.addr] = d
	}
	return c, nil
}

// Stats reports the connector's counters.
func (c *Conn) Stats() map[string]uint64 {
	m := c.cnt.Stats()
	if c.send != nil {
		m["dropped"] = c.send.Dropped()
	}
	return m
}

// Run opens the controller, scans, and runs every device until ctx ends.
func (c *Conn) Run(ctx context.Context, sink connector.Sink) error {
	a, err := bluetooth.OpenAdapter(ctx, c.spec.adapter)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.PowerOn(ctx); err != nil {
		return err
	}
	c.env.Log.Info("using Bluetooth controller", "adapter", a.String())
	a.Refresh = c.scanRefresh()
	a.Passive = c.spec.passiveScan
	a.Window, a.Period = c.spec.scanWindow, c.spec.scanPeriod
	c.adapter.Store(a)
	defer c.adapter.Store(nil)
	c.send = kit.NewSender(sink, c.env.Log)
	g, gctx := kit.NewGroup(ctx)
	g.Go("scanner", func() error { return c.scan(gctx, a) })
	if c.spec.showMap {
		g.Go("showMap", func() error { return c.showMap(gctx) })
	}
	for _, d := range c.devs {
		g.Go("device "+d.spec.name, func() error { return d.run(gctx, a) })
	}
	c.running.Store(true)
	err = g.Wait()
	c.running.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// scan runs the scanner. A kernel without advertisement monitors (before
// Linux 5.10) cannot scan passively through the management interface:
// the scanner then scans actively, and says so.
func (c *Conn) scan(ctx context.Context, a *bluetooth.Adapter) error {
	err := a.Scan(ctx, c.onFound)
	if err != nil && a.Passive && errors.Is(err, errors.ErrUnsupported) && ctx.Err() == nil {
		c.env.Log.Warn("passive scanning is not available (the kernel has no advertisement monitors); scanning actively", "adapter", a.String(), "err", err)
		a.Passive = false
		err = a.Scan(ctx, c.onFound)
	}
	return err
}

// scanRefresh: devices with advertisement items want a fresh report every
// pollPeriod; discovery rounds (within which controllers drop duplicate
// reports) are ended that often, at most every second. Zero leaves the
// kernel's rounds of about ten seconds.
func (c *Conn) scanRefresh() time.Duration {
	var r time.Duration
	for _, d := range c.spec.devices {
		for _, it := range d.items {
			if it.adv && (r == 0 || d.pollPeriod < r) {
				r = d.pollPeriod
			}
		}
	}
	if r > 0 && r < time.Second {
		r = time.Second
	}
	return r
}

func (c *Conn) onFound(f bluetooth.Found) {
	c.cnt.Add("advertisements", 1)
	d, err := adv.Parse(f.Data)
	if err != nil {
		c.cnt.Add("badAdvertisements", 1)
	}
	now := c.env.Now()
	c.mu.Lock()
	c.seqGen++
	s := c.seen[f.Addr]
	if s == nil {
		if len(c.seen) >= maxSightings {
			c.evictOldest()
		}
		s = &sighting{}
		c.seen[f.Addr] = s
	}
	// Scan responses arrive as separate reports: keep what the previous
	// report of this address carried when this one lacks it.
	if d.Name == "" {
		d.Name = s.data.Name
	}
	if len(d.Manufacturer) == 0 {
		d.Manufacturer = s.data.Manufacturer
	}
	if len(d.ServiceData) == 0 {
		d.ServiceData = s.data.ServiceData
	}
	*s = sighting{at: now, seq: c.seqGen, typ: f.AddrType, rssi: f.RSSI, data: d}
	c.mu.Unlock()
	if dev := c.byAddr[f.Addr]; dev != nil {
		dev.wake()
	}
}

func (c *Conn) evictOldest() {
	var oldest bluetooth.Addr
	var at time.Time
	first := true
	for a, s := range c.seen {
		if first || s.at.Before(at) {
			oldest, at, first = a, s.at, false
		}
	}
	delete(c.seen, oldest)
}

func (c *Conn) sighting(a bluetooth.Addr) (sighting, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.seen[a]
	if !ok {
		return sighting{}, false
	}
	return *s, true
}

// seenMap is MAC → name of every advertiser seen, optionally only those
// named name.
func (c *Conn) seenMap(name string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]string{}
	for a, s := range c.seen {
		if name == "" || s.data.Name == name {
			m[a.String()] = s.data.Name
		}
	}
	return m
}

// showMap logs what the scanner saw during scanner.timeout (upstream
// "showMap").
func (c *Conn) showMap(ctx context.Context) error {
	t := time.NewTimer(c.spec.mapTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	m := c.seenMap(c.spec.mapName)
	if len(m) == 0 {
		c.env.Log.Info("scan map: nothing to show", "deviceName", c.spec.mapName)
		return nil
	}
	b, _ := json.MarshalIndent(m, "", "    ")
	c.env.Log.Info("scan map: the mac:device pairs are:\n" + string(b))
	return nil
}

func (c *Conn) device(name string) (*device, error) {
	if !c.running.Load() {
		return nil, errors.New("ble connector is not running")
	}
	d := c.byName[name]
	if d == nil {
		return nil, fmt.Errorf("device %q is not configured in this connector", name)
	}
	return d, nil
}

// OnAttributes writes shared attribute updates to the characteristics
// their attributeUpdates entries name, as UTF-8 text.
func (c *Conn) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	d, err := c.device(device)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		for _, u := range d.spec.updates {
			if u.attr != k {
				continue
			}
			if err := d.write(ctx, u.uuid, []byte(pyStr(values[k])), u.withResponse); err != nil {
				errs = append(errs, fmt.Errorf("attribute %s: %w", k, err))
			}
		}
	}
	return errors.Join(errs...)
}
