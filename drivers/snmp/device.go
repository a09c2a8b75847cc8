package snmp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
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
	conv      codec.Uplink // custom converter, nil for the built-in one

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
	lock       chan struct{}
	client     *gosnmp.GoSNMP
	resolvedAt time.Time
	errs       map[string]string // item key -> last error logged
	failures   int               // consecutive failed polls
	up         bool

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
		d.client = nil // a new agent: discover its engine again
	}
	d.resolvedAt = now
	return ap, nil
}

// session prepares the device's gosnmp client to talk to ap through s.
// Called with the lock held.
func (d *device) session(ctx context.Context, ap netip.AddrPort, s *sock) (*session, error) {
	if d.client == nil {
		g := &gosnmp.GoSNMP{
			Target:    ap.Addr().String(),
			Port:      ap.Port(),
			Transport: "udp",
			Community: d.community,
			Version:   d.version,
			Timeout:   d.timeout,
			Retries:   d.retries,
			MaxOids:   gosnmp.MaxOids,
		}
		if d.version == gosnmp.Version3 {
			g.SecurityModel = gosnmp.UserSecurityModel
			g.MsgFlags = d.usm.level
			g.SecurityParameters = d.usm.params()
			g.ContextName = d.contextName
			g.ContextEngineID = d.contextEngineID
		}
		// Connect validates the parameters and seeds request ids and
		// buffers; the socket it dials is closed at once, requests go
		// through the worker's shared socket instead.
		if err := g.Connect(); err != nil {
			return nil, fmt.Errorf("snmp client: %w", err)
		}
		_ = g.Close()
		d.client = g
	}
	d.client.Conn = &peer{s: s, to: ap}
	d.client.Context = ctx
	return &session{g: d.client, d: d}, nil
}
