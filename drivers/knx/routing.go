package knx

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/codec/knx"
)

// router sends and receives ROUTING_INDICATIONs on the KNXnet/IP
// multicast group.
type router struct {
	log   *slog.Logger
	conn  *net.UDPConn // bound to the group: receives
	tx    *net.UDPConn // bound to localIp: sends (a group-bound socket cannot)
	group *net.UDPAddr
	src   knx.Individual
	onInd func(knx.CEMI)

	done      chan struct{}
	closeOnce sync.Once
}

// ifaceFor finds the interface holding ip, nil for the unspecified
// address (the system's choice).
func ifaceFor(ip netip.Addr) (*net.Interface, error) {
	if !ip.IsValid() || ip.IsUnspecified() {
		return nil, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no interface has the address %s", ip)
}

// setMulticastIF makes conn send multicast out of the interface with ip.
func setMulticastIF(conn *net.UDPConn, ip netip.Addr) error {
	if !ip.IsValid() || ip.IsUnspecified() {
		return nil
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInet4Addr(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF, ip.As4())
	})
	if err != nil {
		return err
	}
	return serr
}

func dialRouter(log *slog.Logger, local netip.Addr, group netip.AddrPort, src knx.Individual, onInd func(knx.CEMI)) (*router, error) {
	ifi, err := ifaceFor(local)
	if err != nil {
		return nil, err
	}
	g := net.UDPAddrFromAddrPort(group)
	conn, err := net.ListenMulticastUDP("udp4", ifi, g)
	if err != nil {
		return nil, fmt.Errorf("routing: join %s: %w", group, err)
	}
	tx, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("routing: %w", err)
	}
	if err := setMulticastIF(tx, local); err != nil {
		conn.Close()
		tx.Close()
		return nil, fmt.Errorf("routing: %w", err)
	}
	return &router{log: log, conn: conn, tx: tx, group: g, src: src, onInd: onInd, done: make(chan struct{})}, nil
}

func (r *router) String() string { return fmt.Sprintf("routing on %s as %s", r.group, r.src) }

func (r *router) close() {
	r.closeOnce.Do(func() {
		close(r.done)
		r.conn.Close()
		r.tx.Close()
	})
}

func (r *router) send(ctx context.Context, c knx.CEMI) error {
	c.Code = knx.LDataInd
	c.Src = r.src
	_ = r.tx.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := r.tx.WriteToUDP(knx.AppendRouting(nil, c.Append(nil)), r.group); err != nil {
		return fmt.Errorf("%s: %w", r, err)
	}
	return nil
}

func (r *router) run() error {
	buf := make([]byte, knx.MaxFrame)
	for {
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-r.done:
				return nil
			default:
				return fmt.Errorf("%s: %w", r, err)
			}
		}
		f, err := knx.ParseFrame(buf[:n])
		if err != nil || f.Service != knx.RoutingIndication {
			continue
		}
		c, err := knx.ParseCEMI(f.Body)
		if err != nil || c.Code != knx.LDataInd || c.Src == r.src {
			continue
		}
		r.onInd(c)
	}
}

// search multicasts a SEARCH_REQUEST and collects the answers for d (or
// until the first one, with stopOnFound).
func search(ctx context.Context, local netip.Addr, group netip.AddrPort, d time.Duration, stopOnFound bool) ([]knx.Gateway, error) {
	laddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	conn, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		return nil, fmt.Errorf("gateway search: %w", err)
	}
	defer conn.Close()
	if err := setMulticastIF(conn, local); err != nil {
		return nil, fmt.Errorf("gateway search: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	la := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	reply := knx.HPAI{Addr: la}
	if !la.Addr().Unmap().IsUnspecified() {
		reply = knx.HPAI{Addr: netip.AddrPortFrom(la.Addr().Unmap(), la.Port())}
	} else {
		reply = knx.HPAI{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)} // answer to the sender
	}
	if _, err := conn.WriteToUDP(knx.AppendSearchRequest(nil, reply), net.UDPAddrFromAddrPort(group)); err != nil {
		return nil, fmt.Errorf("gateway search: %w", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(d))
	var found []knx.Gateway
	buf := make([]byte, knx.MaxFrame)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		f, err := knx.ParseFrame(buf[:n])
		if err != nil || f.Service != knx.SearchResponse {
			continue
		}
		g, err := knx.ParseSearchResponse(f.Body)
		if err != nil {
			continue
		}
		if g.Control.Addr.Addr().IsUnspecified() { // NAT: use the sender
			g.Control.Addr = from.AddrPort()
		}
		found = append(found, g)
		if stopOnFound {
			break
		}
	}
	return found, ctx.Err()
}
