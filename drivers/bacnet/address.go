package bacnet

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec/bacnet"
)

// DefaultPort is the BACnet/IP UDP port.
const DefaultPort = 47808

// peer is where a device is reached: a B/IP address on the local link
// (the device itself, or the router in front of it) and, for a device on
// a remote network, its network number and MAC address there.
type peer struct {
	ip  netip.AddrPort
	net uint16 // 0: the device is on the local network
	mac string // MAC on network net (raw octets)
}

func (p peer) String() string {
	if p.net == 0 {
		return p.ip.String()
	}
	return strconv.Itoa(int(p.net)) + ":" + formatMAC([]byte(p.mac)) + "@" + p.ip.String()
}

// formatMAC writes a remote MAC the way addresses are configured: a B/IP
// MAC as ip:port, a one-octet MAC (MS/TP) as a decimal, others as 0x-hex.
func formatMAC(m []byte) string {
	switch len(m) {
	case 6:
		return bacnet.DecodeBIPAddress(m).String()
	case 1:
		return strconv.Itoa(int(m[0]))
	}
	return "0x" + hex.EncodeToString(m)
}

// addrPattern is a configured device address: an exact address, or one
// with wildcards ("*", "192.168.1.X", "*:47809", "2:*", "*:*"). It never
// becomes a regular expression: each part is compared on its own.
type addrPattern struct {
	raw    string
	any    bool   // "*:*" or "*:*:*": every device, local or remote
	routed bool   // "net:mac" form
	net    uint16 // routed: network number (0 with anyNet)
	anyNet bool
	mac    []byte // routed: exact MAC, nil with anyMAC
	anyMAC bool
	ip     [4]int // local: octets, -1 for an X or * octet
	anyIP  bool   // local: "*"
	port   int    // local: 0 for any port
}

// parseAddress parses a device "address" (or host/port/mask composed the
// way upstream composes them).
func parseAddress(s string) (addrPattern, error) {
	p := addrPattern{raw: s}
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i] // upstream ignores what follows '@'
	}
	if s == "" {
		return p, fmt.Errorf("empty address")
	}
	if s == "*:*" || s == "*:*:*" {
		p.any = true
		return p, nil
	}
	first, rest, hasRest := strings.Cut(s, ":")
	if hasRest && !strings.Contains(first, ".") && first != "*" || (first == "*" && hasRest && strings.Contains(rest, ":")) {
		// net:mac, where mac is decimal, 0x-hex, "*" or ip:port.
		p.routed = true
		if first == "*" || strings.Trim(first, "X") == "" {
			p.anyNet = true
		} else {
			n, err := strconv.ParseUint(first, 10, 16)
			if err != nil || n == 0 || n == bacnet.GlobalNetwork {
				return p, fmt.Errorf("bad network number %q (want 1-65534)", first)
			}
			p.net = uint16(n)
		}
		switch {
		case rest == "*":
			p.anyMAC = true
		case strings.Contains(rest, "."):
			ap, err := netip.ParseAddrPort(rest)
			if err != nil {
				a, err2 := netip.ParseAddr(rest)
				if err2 != nil || !a.Is4() {
					return p, fmt.Errorf("bad MAC address %q", rest)
				}
				ap = netip.AddrPortFrom(a, DefaultPort)
			}
			if !ap.Addr().Is4() {
				return p, fmt.Errorf("bad MAC address %q: not IPv4", rest)
			}
			p.mac = bacnet.AppendBIPAddress(nil, ap)
		case strings.HasPrefix(rest, "0x") || strings.HasPrefix(rest, "0X"):
			m, err := hex.DecodeString(rest[2:])
			if err != nil || len(m) == 0 || len(m) > 255 {
				return p, fmt.Errorf("bad MAC address %q", rest)
			}
			p.mac = m
		default:
			v, err := strconv.ParseUint(rest, 10, 8)
			if err != nil {
				return p, fmt.Errorf("bad MAC address %q (want a decimal octet, 0x-hex or ip:port)", rest)
			}
			p.mac = []byte{byte(v)}
		}
		return p, nil
	}
	host, port := first, ""
	if hasRest {
		port = rest
	}
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i] // the device's mask does not change its address
	}
	switch port {
	case "":
		p.port = DefaultPort
	case "*":
		p.port = 0
	default:
		v, err := strconv.ParseUint(port, 10, 16)
		if err != nil || v == 0 {
			return p, fmt.Errorf("bad port %q", port)
		}
		p.port = int(v)
	}
	if host == "*" {
		p.anyIP = true
		return p, nil
	}
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return p, fmt.Errorf("bad IPv4 address %q", host)
	}
	for i, o := range parts {
		if o == "*" || (o != "" && strings.Trim(o, "Xx") == "") {
			p.ip[i] = -1
			continue
		}
		v, err := strconv.ParseUint(o, 10, 8)
		if err != nil {
			return p, fmt.Errorf("bad IPv4 address %q", host)
		}
		p.ip[i] = int(v)
	}
	return p, nil
}

// exact reports whether the pattern names one local device (unicast).
func (p addrPattern) exact() (netip.AddrPort, bool) {
	if p.any || p.routed || p.anyIP || p.port == 0 {
		return netip.AddrPort{}, false
	}
	var b [4]byte
	for i, o := range p.ip {
		if o < 0 {
			return netip.AddrPort{}, false
		}
		b[i] = byte(o)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(p.port)), true
}

// match reports whether a device at pr matches the pattern.
func (p addrPattern) match(pr peer) bool {
	if p.any {
		return true
	}
	if p.routed {
		if pr.net == 0 || (!p.anyNet && pr.net != p.net) {
			return false
		}
		return p.anyMAC || string(p.mac) == pr.mac
	}
	if pr.net != 0 {
		return false
	}
	if p.port != 0 && int(pr.ip.Port()) != p.port {
		return false
	}
	if p.anyIP {
		return true
	}
	a := pr.ip.Addr().Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for i, o := range p.ip {
		if o >= 0 && int(b[i]) != o {
			return false
		}
	}
	return true
}

func (p addrPattern) String() string { return p.raw }

// idPattern is a configured "deviceId": "*", an instance, a range
// "1000-1999", or a list of those.
type idPattern struct {
	any    bool
	ranges [][2]uint32 // inclusive
}

func (p idPattern) match(id uint32) bool {
	if p.any {
		return true
	}
	for _, r := range p.ranges {
		if id >= r[0] && id <= r[1] {
			return true
		}
	}
	return false
}

// single returns the one instance the pattern names, if it names one.
func (p idPattern) single() (uint32, bool) {
	if !p.any && len(p.ranges) == 1 && p.ranges[0][0] == p.ranges[0][1] {
		return p.ranges[0][0], true
	}
	return 0, false
}

// bounds returns the smallest range covering the pattern (a Who-Is range).
func (p idPattern) bounds() (uint32, uint32) {
	if p.any || len(p.ranges) == 0 {
		return 0, bacnet.MaxInstance
	}
	lo, hi := uint32(bacnet.MaxInstance), uint32(0)
	for _, r := range p.ranges {
		lo, hi = min(lo, r[0]), max(hi, r[1])
	}
	return lo, hi
}

// parseRange parses "5", "1-9" (inclusive) into a range.
func parseRange(s string) ([2]uint32, error) {
	s = strings.TrimSpace(s)
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(strings.TrimSpace(a), 10, 32)
	if err != nil || lo > bacnet.MaxInstance {
		return [2]uint32{}, fmt.Errorf("bad instance %q", s)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.ParseUint(strings.TrimSpace(b), 10, 32); err != nil || hi > bacnet.MaxInstance || hi < lo {
			return [2]uint32{}, fmt.Errorf("bad range %q", s)
		}
	}
	return [2]uint32{uint32(lo), uint32(hi)}, nil
}
