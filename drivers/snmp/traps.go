package snmp

import (
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
	"github.com/tbgw/tbgw/drivers/kit/backoff"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/gw/connector"
)

// Well-known OIDs of notifications (RFC 3416, RFC 3584, RFC 3414).
const (
	oidSysUpTime          = ".1.3.6.1.2.1.1.3.0"
	oidSnmpTrapOID        = ".1.3.6.1.6.3.1.1.4.1.0"
	oidSnmpTrapEnterprise = ".1.3.6.1.6.3.1.1.4.3.0"
	oidSnmpTraps          = ".1.3.6.1.6.3.1.1.5" // generic traps: .<generic+1>
	oidUnknownEngineIDs   = ".1.3.6.1.6.3.15.1.1.4.0"
)

// trapReceiver decodes notifications on one UDP socket and answers what
// needs an answer (informs, SNMPv3 engine discovery).
type trapReceiver struct {
	c        *Connector
	pc       net.PacketConn
	params   *gosnmp.GoSNMP // decoder with the v3 users
	engineID string
	boots    uint32
	started  time.Time
	unknown  atomic.Uint32 // discovery probes answered
	queue    chan connector.Data
	dropped  atomic.Uint64
}

// receiveTraps runs the trap receiver until ctx ends, binding again with a
// back-off when the socket fails. Converted traps go through a bounded
// queue to one sender, so a slow storage never stalls the socket.
func (c *Connector) receiveTraps(ctx context.Context, g *kit.Group, out *kit.Sender) {
	t := c.plan.traps
	queue := make(chan connector.Data, t.queue)
	g.Go("snmp trap sender", func() error {
		for {
			select {
			case d := <-queue:
				if err := out.Send(ctx, []connector.Data{d}); err != nil && ctx.Err() == nil {
					c.log.Warn("trap data dropped", "device", d.Device, "err", err)
				}
			case <-ctx.Done():
				return nil
			}
		}
	})
	engineID, boots := c.trapEngine()
	_ = backoff.Retry(ctx, backoff.Policy{Min: time.Second, Max: time.Minute}, func(ctx context.Context) error {
		err := c.listenTraps(ctx, engineID, boots, queue)
		if err != nil && ctx.Err() == nil {
			c.log.Error("trap receiver failed; binding again", "address", t.address, "err", err)
		}
		return err
	})
}

func (c *Connector) listenTraps(ctx context.Context, engineID string, boots uint32, queue chan connector.Data) error {
	t := c.plan.traps
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", t.address)
	if err != nil {
		return err
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { _ = pc.Close() })
	defer stop()

	r, err := c.newTrapReceiver(pc, engineID, boots, queue)
	if err != nil {
		return err
	}
	c.trapAddr.Store(pc.LocalAddr().String())
	c.log.Info("receiving traps", "address", pc.LocalAddr().String())

	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		msg := make([]byte, n) // decoded values point into the message
		copy(msg, buf[:n])
		r.handle(msg, ua)
	}
}

func (c *Connector) newTrapReceiver(pc net.PacketConn, engineID string, boots uint32, queue chan connector.Data) (*trapReceiver, error) {
	table := gosnmp.NewSnmpV3SecurityParametersTable(gosnmp.Logger{})
	// An empty user lets engine discovery probes decode.
	if err := table.Add("", &gosnmp.UsmSecurityParameters{AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}); err != nil {
		return nil, err
	}
	for _, u := range c.plan.traps.users {
		if err := table.Add(u.name, u.params()); err != nil {
			return nil, fmt.Errorf("v3 user %s: %w", u.name, err)
		}
	}
	params := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel}
	params.SetTrapSecurityParametersTable(table)
	return &trapReceiver{c: c, pc: pc, params: params, engineID: engineID, boots: boots, started: time.Now(), queue: queue}, nil
}

// engineState is what the receiver keeps in DataDir across restarts.
type engineState struct {
	EngineID string `json:"engineId"` // hex
	Boots    uint32 `json:"boots"`
}

// trapEngine returns the receiver's SNMPv3 engine ID and boot count (for
// informs, where the receiver is the authoritative engine). With a DataDir
// both persist: a generated ID stays the same across restarts and the boot
// count grows, so senders that cached our engine keep their time window
// right (RFC 3414 section 2.2).
func (c *Connector) trapEngine() (string, uint32) {
	id := c.plan.traps.engineID
	var st engineState
	path := ""
	if c.env.DataDir != "" {
		path = filepath.Join(c.env.DataDir, "snmp-engine.json")
		if raw, err := os.ReadFile(path); err == nil {
			_ = json.Unmarshal(raw, &st)
		}
	}
	if id == "" {
		if b, err := hex.DecodeString(st.EngineID); err == nil && len(b) >= 5 && len(b) <= 32 {
			id = string(b)
		} else {
			// RFC 3411 format 5 (octets), enterprise 0, eight random bytes.
			b := make([]byte, 13)
			copy(b, []byte{0x80, 0, 0, 0, 5})
			_, _ = rand.Read(b[5:])
			id = string(b)
		}
	}
	if st.EngineID != hex.EncodeToString([]byte(id)) || st.Boots >= math.MaxInt32 {
		st.Boots = 0
	}
	st.EngineID = hex.EncodeToString([]byte(id))
	st.Boots++
	if path != "" {
		raw, _ := json.Marshal(st)
		if err := atomicfile.Write(path, raw, 0o600); err != nil {
			c.log.Warn("cannot keep the SNMPv3 engine boot count", "file", path, "err", err)
		}
	}
	return id, st.Boots
}

// decode unmarshals a notification; gosnmp's decoder is guarded so that
// a malformed datagram can never take the gateway down.
func (r *trapReceiver) decode(msg []byte) (pkt *gosnmp.SnmpPacket, err error) {
	defer func() {
		if e := recover(); e != nil {
			pkt, err = nil, fmt.Errorf("malformed notification: %v", e)
		}
	}()
	return r.params.UnmarshalTrap(msg, false)
}

// handle processes one datagram; a malformed one is logged and dropped.
func (r *trapReceiver) handle(msg []byte, from *net.UDPAddr) {
	pkt, err := r.decode(msg)
	if err != nil {
		r.c.log.Debug("notification dropped", "from", from.String(), "err", err)
		return
	}
	if pkt.Version == gosnmp.Version3 {
		usp, _ := pkt.SecurityParameters.(*gosnmp.UsmSecurityParameters)
		if usp == nil {
			return
		}
		if len(usp.AuthoritativeEngineID) < 5 {
			// Engine discovery (an inform sender learning our engine ID).
			r.report(pkt, from)
			return
		}
	} else if cs := r.c.plan.traps.communities; cs != nil && !cs[pkt.Community] {
		r.c.log.Debug("notification with unknown community dropped", "from", from.String())
		return
	}
	switch pkt.PDUType {
	case gosnmp.Trap, gosnmp.SNMPv2Trap, gosnmp.InformRequest:
	default:
		r.c.log.Debug("unexpected PDU on the trap port", "from", from.String(), "pdu", pkt.PDUType.String())
		return
	}
	src, _ := netip.AddrFromSlice(from.IP)
	queued := true
	for _, d := range r.c.trapData(pkt, src.Unmap()) {
		select {
		case r.queue <- d:
		default:
			queued = false
			if n := r.dropped.Add(1); n%100 == 1 {
				r.c.log.Warn("trap queue full, notifications dropped", "dropped", n)
			}
		}
	}
	// An inform is acknowledged once its data is queued; one that could
	// not be is left unanswered, so the sender sends it again.
	if pkt.PDUType == gosnmp.InformRequest && queued {
		r.ack(pkt, from)
	}
}

// report answers an engine discovery probe with our engine ID, boots and
// time (RFC 3414 section 4).
func (r *trapReceiver) report(pkt *gosnmp.SnmpPacket, to *net.UDPAddr) {
	resp := &gosnmp.SnmpPacket{
		Version:       gosnmp.Version3,
		MsgFlags:      gosnmp.NoAuthNoPriv,
		SecurityModel: gosnmp.UserSecurityModel,
		SecurityParameters: &gosnmp.UsmSecurityParameters{
			AuthoritativeEngineID:    r.engineID,
			AuthoritativeEngineBoots: r.boots,
			AuthoritativeEngineTime:  uint32(time.Since(r.started) / time.Second),
			AuthenticationProtocol:   gosnmp.NoAuth,
			PrivacyProtocol:          gosnmp.NoPriv,
		},
		ContextEngineID: r.engineID,
		ContextName:     pkt.ContextName,
		PDUType:         gosnmp.Report,
		MsgID:           pkt.MsgID,
		RequestID:       pkt.RequestID,
		MsgMaxSize:      65507,
		Variables: []gosnmp.SnmpPDU{{Name: oidUnknownEngineIDs, Type: gosnmp.Counter32,
			Value: r.unknown.Add(1)}},
	}
	r.send(resp, to)
}

// ack acknowledges an inform with a response carrying the same varbinds.
func (r *trapReceiver) ack(pkt *gosnmp.SnmpPacket, to *net.UDPAddr) {
	resp := *pkt
	resp.PDUType = gosnmp.GetResponse
	resp.Error, resp.ErrorIndex = gosnmp.NoError, 0
	resp.MsgFlags = pkt.MsgFlags &^ gosnmp.Reportable
	if usp, ok := pkt.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok && pkt.MsgFlags&gosnmp.AuthPriv == gosnmp.AuthPriv {
		salt := make([]byte, 8) // a fresh salt: never reuse the inform's IV
		_, _ = rand.Read(salt)
		usp.PrivacyParameters = salt
	}
	r.send(&resp, to)
}

func (r *trapReceiver) send(p *gosnmp.SnmpPacket, to *net.UDPAddr) {
	b, err := p.MarshalMsg()
	if err != nil {
		r.c.log.Debug("cannot encode notification answer", "to", to.String(), "err", err)
		return
	}
	if _, err := r.pc.WriteTo(b, to); err != nil {
		r.c.log.Debug("cannot send notification answer", "to", to.String(), "err", err)
	}
}

// trapData maps a notification to telemetry of every device whose address
// is the sender's (an SNMPv1 trap's agent-addr counts too) and that maps at
// least one of its OIDs.
func (c *Connector) trapData(pkt *gosnmp.SnmpPacket, src netip.Addr) []connector.Data {
	vars := pkt.Variables
	agent := src
	if pkt.PDUType == gosnmp.Trap {
		vars = v1Varbinds(pkt)
		if a, err := netip.ParseAddr(pkt.AgentAddress); err == nil {
			agent = a.Unmap()
		}
	}
	ts := c.env.Now().UnixMilli()
	var out []connector.Data
	for _, d := range c.plan.devices {
		if len(d.traps) == 0 {
			continue
		}
		a := d.addr.Load()
		if a == nil || (a.Addr() != src && a.Addr() != agent) {
			continue
		}
		data := connector.Data{Device: d.name, Type: d.typ}
		for _, pdu := range vars {
			m := matchTrap(d.traps, pdu.Name)
			if m == nil {
				continue
			}
			v, ok := scalar(pdu, octetAuto)
			if !ok {
				continue
			}
			key := strings.ReplaceAll(m.key, "${oid}", plainOID(pdu.Name))
			data.Telemetry = append(data.Telemetry, connector.Point{Key: key, Value: v, TS: ts, Report: onReceived})
		}
		if len(data.Telemetry) > 0 {
			out = append(out, data)
		}
	}
	if len(out) == 0 {
		c.log.Debug("notification matches no device", "from", src.String(), "pdu", pkt.PDUType.String())
	}
	return out
}

// onReceived reports every trap value, also repeated ones: a notification
// is an event, not a state.
var onReceived = &connector.Strategy{Type: codec.OnReceived, TTLSec: codec.DefaultTTLSec}

// matchTrap finds the mapping of oid: an exact match, else the longest
// mapping that is a prefix of it.
func matchTrap(ms []trapMap, oid string) *trapMap {
	var best *trapMap
	for i := range ms {
		m := &ms[i]
		if oid == m.oid {
			return m
		}
		if strings.HasPrefix(oid, m.oid+".") && (best == nil || len(m.oid) > len(best.oid)) {
			best = m
		}
	}
	return best
}

// v1Varbinds presents an SNMPv1 trap like an SNMPv2 one (RFC 3584 3.1):
// sysUpTime.0, snmpTrapOID.0, the varbinds, snmpTrapEnterprise.0.
func v1Varbinds(pkt *gosnmp.SnmpPacket) []gosnmp.SnmpPDU {
	ent := pkt.Enterprise
	if ent != "" && !strings.HasPrefix(ent, ".") {
		ent = "." + ent
	}
	trapOID := ent + ".0." + strconv.Itoa(pkt.SpecificTrap)
	if pkt.GenericTrap >= 0 && pkt.GenericTrap < 6 {
		trapOID = oidSnmpTraps + "." + strconv.Itoa(pkt.GenericTrap+1)
	}
	out := make([]gosnmp.SnmpPDU, 0, len(pkt.Variables)+3)
	out = append(out,
		gosnmp.SnmpPDU{Name: oidSysUpTime, Type: gosnmp.TimeTicks, Value: uint32(pkt.Timestamp)},
		gosnmp.SnmpPDU{Name: oidSnmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: trapOID})
	out = append(out, pkt.Variables...)
	if ent != "" {
		out = append(out, gosnmp.SnmpPDU{Name: oidSnmpTrapEnterprise, Type: gosnmp.ObjectIdentifier, Value: ent})
	}
	return out
}
