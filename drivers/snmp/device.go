package snmp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/gw/connector"
)

// device is one configured agent: its compiled configuration and the state
// of talking to it.
type device struct {
	idx       int
	name, typ string
	host      string     // "ip" as configured
	literal   netip.Addr // host parsed, when it is an address
	port      uint16
	period    time.Duration
	timeout   time.Duration
	retries   int
	community string
	version   gosnmp.SnmpVersion
	usm       *usmUser // v3 only
	report    *connector.Strategy
	conv      codec.Uplink     // custom converter, nil for the built-in one
	pyconv    codec.CallUplink // upstream-style (Python) converter, called as upstream's SNMP connector does
	raw       json.RawMessage  // the device's configuration, for pyconv

	contextName, contextEngineID string

	items   []*item
	batches [][]*item // batched single-OID gets
	single  []*item   // everything else
	writes  []*request
	rpcs    []*request
	traps   []trapMap

	// addr is the last resolved address; the trap receiver reads it.
	addr atomic.Pointer[netip.AddrPort]

	// lock serialises everything below and every use of the agent: a poll
	// and a downlink request never interleave on one device.
	lock          chan struct{}
	sec           *gosnmp.UsmSecurityParameters // SNMPv3 state, nil until first use
	discoveredCtx string                        // context engine ID learnt from the agent
	resolvedAt    time.Time
	errs          map[string]string // item key -> last error logged
	failures      int               // consecutive failed polls
	up            bool

	// next is when the device is due; owned by the scheduler.
	next    time.Time
	heapIdx int
}

func (d *device) init() {
	d.lock = make(chan struct{}, 1)
	d.errs = map[string]string{}
	if d.literal.IsValid() {
		ap := netip.AddrPortFrom(d.literal, d.port)
		d.addr.Store(&ap)
	}
}

// scheduled reports whether the device is polled: it has datapoints, or
// it takes traps and its host name must be resolved to match them.
func (d *device) scheduled() bool {
	return len(d.items) > 0 || (len(d.traps) > 0 && !d.literal.IsValid())
}

// acquire takes the device lock, or gives up when ctx ends.
func (d *device) acquire(ctx context.Context) error {
	select {
	case d.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *device) release() { <-d.lock }

// resolveEvery is how long a resolved host name is trusted while the agent
// answers; a failed poll resolves again.
const resolveEvery = time.Minute

// resolve returns the agent's address, looking the host name up when
// needed. Called with the lock held.
func (d *device) resolve(ctx context.Context, now time.Time) (netip.AddrPort, error) {
	if d.literal.IsValid() {
		return netip.AddrPortFrom(d.literal, d.port), nil
	}
	if a := d.addr.Load(); a != nil && d.failures == 0 && now.Sub(d.resolvedAt) < resolveEvery {
		return *a, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", d.host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: %w", d.host, err)
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: no address", d.host)
	}
	pick := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() { // prefer IPv4, as gethostbyname does
			pick = ip
			break
		}
	}
	ap := netip.AddrPortFrom(pick.Unmap(), d.port)
	if old := d.addr.Load(); old == nil || *old != ap {
		d.addr.Store(&ap)
		d.forget() // a new agent: discover its engine again
	}
	d.resolvedAt = now
	return ap, nil
}

// An engine is a gosnmp client with its 64 KB receive buffer. Devices do
// not own one: a worker (or a downlink call) lends its engine to the device
// it serves, loaded with that device's settings and SNMPv3 state, so 500
// devices cost a few buffers, not 500.
type engine struct{ g *gosnmp.GoSNMP }

var engines = sync.Pool{New: func() any {
	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: 9, Transport: "udp", Version: gosnmp.Version2c}
	// Connect seeds request ids and allocates the receive buffer; its
	// socket is closed at once, requests go through a worker's socket.
	if err := g.Connect(); err != nil {
		return err
	}
	_ = g.Close()
	return &engine{g: g}
}}

func getEngine() (*engine, error) {
	switch e := engines.Get().(type) {
	case *engine:
		return e, nil
	case error:
		return nil, fmt.Errorf("snmp client: %w", e)
	}
	return nil, fmt.Errorf("snmp client: no engine")
}

func putEngine(e *engine) {
	e.g.Conn, e.g.Context, e.g.SecurityParameters = nil, nil, nil
	engines.Put(e)
}

// newUSM returns initialised USM parameters (random salt, validated keys)
// for a v3 device; the engine ID is discovered on first use.
func (d *device) newUSM() (*gosnmp.UsmSecurityParameters, error) {
	sp := d.usm.params()
	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: 9, Transport: "udp", Version: gosnmp.Version3,
		SecurityModel: gosnmp.UserSecurityModel, MsgFlags: d.usm.level, SecurityParameters: sp}
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("snmpv3 user %s: %w", d.usm.name, err)
	}
	_ = g.Close()
	return sp, nil
}

// session loads engine e with the device's settings to talk to ap through
// s. Called with the lock held; end the session before releasing it.
func (d *device) session(ctx context.Context, e *engine, ap netip.AddrPort, s *sock) (*session, error) {
	g := e.g
	g.Target, g.Port = ap.Addr().String(), ap.Port()
	g.Version, g.Community = d.version, d.community
	g.Timeout, g.Retries, g.MaxRepetitions = d.timeout, d.retries, 0
	g.SecurityModel, g.MsgFlags, g.SecurityParameters = 0, 0, nil
	g.ContextName, g.ContextEngineID = "", ""
	if d.version == gosnmp.Version3 {
		if d.sec == nil {
			sp, err := d.newUSM()
			if err != nil {
				return nil, err
			}
			d.sec = sp
		}
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = d.usm.level | gosnmp.Reportable
		g.SecurityParameters = d.sec
		g.ContextName = d.contextName
		g.ContextEngineID = d.contextEngineID
		if g.ContextEngineID == "" {
			g.ContextEngineID = d.discoveredCtx
		}
	}
	g.Conn = &peer{s: s, to: ap}
	g.Context = ctx
	return &session{g: g, d: d}, nil
}

// end keeps what the session learnt (the agent's context engine ID).
func (s *session) end() {
	if s.d.version == gosnmp.Version3 && s.d.contextEngineID == "" {
		s.d.discoveredCtx = s.g.ContextEngineID
	}
	s.g.Conn, s.g.Context = nil, nil
}

// forget drops the SNMPv3 state learnt from the agent (engine ID, boots,
// time): an agent that comes back may be another one.
func (d *device) forget() {
	d.sec = nil
	d.discoveredCtx = ""
}
