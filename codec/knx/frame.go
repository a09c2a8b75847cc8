package knx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// KNXnet/IP service types.
const (
	SearchRequest           uint16 = 0x0201
	SearchResponse          uint16 = 0x0202
	DescriptionRequest      uint16 = 0x0203
	DescriptionResponse     uint16 = 0x0204
	ConnectRequest          uint16 = 0x0205
	ConnectResponse         uint16 = 0x0206
	ConnectionStateRequest  uint16 = 0x0207
	ConnectionStateResponse uint16 = 0x0208
	DisconnectRequest       uint16 = 0x0209
	DisconnectResponse      uint16 = 0x020a
	TunnellingRequest       uint16 = 0x0420
	TunnellingAck           uint16 = 0x0421
	RoutingIndication       uint16 = 0x0530
	RoutingLostMessage      uint16 = 0x0531
	RoutingBusy             uint16 = 0x0532
)

// Connect response and connection state status codes.
const (
	StatusOK                     = 0x00
	StatusConnectionID           = 0x21
	StatusConnectionType         = 0x22
	StatusConnectionOption       = 0x23
	StatusNoMoreConnections      = 0x24
	StatusDataConnection         = 0x26
	StatusKNXConnection          = 0x27
	StatusTunnellingLayer        = 0x29
	headerLen                    = 6
	hpaiLen                      = 8
	MaxFrame                     = 512 // larger KNXnet/IP frames are rejected
	protocolVersion         byte = 0x10
)

// StatusText names a KNXnet/IP status code.
func StatusText(s byte) string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusConnectionID:
		return "unknown connection id"
	case StatusConnectionType:
		return "connection type not supported"
	case StatusConnectionOption:
		return "connection option not supported"
	case StatusNoMoreConnections:
		return "no more connections"
	case StatusDataConnection:
		return "data connection error"
	case StatusKNXConnection:
		return "KNX connection error"
	case StatusTunnellingLayer:
		return "tunnelling layer not supported"
	}
	return fmt.Sprintf("status 0x%02x", s)
}

// Frame is one decoded KNXnet/IP frame: the service and its body (after
// the 6-byte header). Body aliases the input.
type Frame struct {
	Service uint16
	Body    []byte
}

// ParseFrame checks the header of one UDP datagram.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < headerLen {
		return Frame{}, errors.New("knxnet/ip: frame shorter than its header")
	}
	if b[0] != headerLen || b[1] != protocolVersion {
		return Frame{}, fmt.Errorf("knxnet/ip: bad header 0x%02x 0x%02x", b[0], b[1])
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n != len(b) || n > MaxFrame {
		return Frame{}, fmt.Errorf("knxnet/ip: length field %d, datagram %d bytes", n, len(b))
	}
	return Frame{Service: binary.BigEndian.Uint16(b[2:]), Body: b[headerLen:]}, nil
}

// appendHeader appends a header for a body of n bytes.
func appendHeader(dst []byte, svc uint16, n int) []byte {
	return append(dst, headerLen, protocolVersion, byte(svc>>8), byte(svc), byte((n+headerLen)>>8), byte(n+headerLen))
}

// HPAI is a host protocol address information block (UDP, IPv4).
type HPAI struct {
	Addr netip.AddrPort // 0.0.0.0:0 = "answer to the sender" (NAT mode)
}

func (h HPAI) append(dst []byte) []byte {
	ip := h.Addr.Addr().Unmap()
	var a [4]byte
	if ip.Is4() {
		a = ip.As4()
	}
	p := h.Addr.Port()
	return append(dst, hpaiLen, 0x01, a[0], a[1], a[2], a[3], byte(p>>8), byte(p))
}

func parseHPAI(b []byte) (HPAI, []byte, error) {
	if len(b) < hpaiLen || b[0] != hpaiLen {
		return HPAI{}, nil, errors.New("knxnet/ip: bad HPAI")
	}
	ip := netip.AddrFrom4([4]byte(b[2:6]))
	return HPAI{Addr: netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[6:]))}, b[hpaiLen:], nil
}

// AppendSearchRequest appends a SEARCH_REQUEST answered to discovery.
func AppendSearchRequest(dst []byte, discovery HPAI) []byte {
	dst = appendHeader(dst, SearchRequest, hpaiLen)
	return discovery.append(dst)
}

// Gateway is what a SEARCH_RESPONSE tells about a KNXnet/IP server.
type Gateway struct {
	Control    HPAI
	Name       string
	Address    Individual
	Tunnelling bool
	Routing    bool
}

// ParseSearchResponse decodes the body of a SEARCH_RESPONSE.
func ParseSearchResponse(body []byte) (Gateway, error) {
	var g Gateway
	h, rest, err := parseHPAI(body)
	if err != nil {
		return g, err
	}
	g.Control = h
	for len(rest) >= 2 {
		n := int(rest[0])
		if n < 2 || n > len(rest) {
			return g, errors.New("knxnet/ip: bad DIB length")
		}
		dib := rest[:n]
		switch dib[1] {
		case 0x01: // device info
			if n >= 54 {
				g.Address = Individual(binary.BigEndian.Uint16(dib[4:]))
				name := dib[24:54]
				for i, c := range name {
					if c == 0 {
						name = name[:i]
						break
					}
				}
				g.Name = string(name)
			}
		case 0x02: // supported service families
			for i := 2; i+1 < n; i += 2 {
				switch dib[i] {
				case 0x04:
					g.Tunnelling = true
				case 0x05:
					g.Routing = true
				}
			}
		}
		rest = rest[n:]
	}
	return g, nil
}

// AppendConnectRequest appends a CONNECT_REQUEST for a link-layer tunnel.
func AppendConnectRequest(dst []byte, control, data HPAI) []byte {
	dst = appendHeader(dst, ConnectRequest, 2*hpaiLen+4)
	dst = control.append(dst)
	dst = data.append(dst)
	return append(dst, 0x04, 0x04, 0x02, 0x00) // CRI: tunnel connection, link layer
}

// ConnectResp is a decoded CONNECT_RESPONSE.
type ConnectResp struct {
	Channel byte
	Status  byte
	Data    HPAI
	Address Individual // the tunnel's individual address
}

// ParseConnectResponse decodes the body of a CONNECT_RESPONSE.
func ParseConnectResponse(body []byte) (ConnectResp, error) {
	var r ConnectResp
	if len(body) < 2 {
		return r, errors.New("knxnet/ip: short CONNECT_RESPONSE")
	}
	r.Channel, r.Status = body[0], body[1]
	if r.Status != StatusOK {
		return r, nil
	}
	h, rest, err := parseHPAI(body[2:])
	if err != nil {
		return r, err
	}
	r.Data = h
	if len(rest) < 4 || rest[0] < 4 || rest[1] != 0x04 {
		return r, errors.New("knxnet/ip: bad CRD")
	}
	r.Address = Individual(binary.BigEndian.Uint16(rest[2:]))
	return r, nil
}

// AppendConnectionState appends a CONNECTIONSTATE_REQUEST (or, with svc
// DisconnectRequest, a DISCONNECT_REQUEST).
func AppendConnectionState(dst []byte, svc uint16, channel byte, control HPAI) []byte {
	dst = appendHeader(dst, svc, 2+hpaiLen)
	dst = append(dst, channel, 0)
	return control.append(dst)
}

// AppendChannelStatus appends a body of channel and status (the
// CONNECTIONSTATE_RESPONSE and DISCONNECT_RESPONSE layout).
func AppendChannelStatus(dst []byte, svc uint16, channel, status byte) []byte {
	dst = appendHeader(dst, svc, 2)
	return append(dst, channel, status)
}

// ParseChannelStatus reads the channel and status of a
// CONNECTIONSTATE_RESPONSE, DISCONNECT_RESPONSE or DISCONNECT_REQUEST.
func ParseChannelStatus(body []byte) (channel, status byte, err error) {
	if len(body) < 2 {
		return 0, 0, errors.New("knxnet/ip: short body")
	}
	return body[0], body[1], nil
}

// AppendTunnelling appends a TUNNELLING_REQUEST carrying cemi.
func AppendTunnelling(dst []byte, channel, seq byte, cemi []byte) []byte {
	dst = appendHeader(dst, TunnellingRequest, 4+len(cemi))
	dst = append(dst, 4, channel, seq, 0)
	return append(dst, cemi...)
}

// AppendTunnellingAck appends a TUNNELLING_ACK.
func AppendTunnellingAck(dst []byte, channel, seq, status byte) []byte {
	dst = appendHeader(dst, TunnellingAck, 4)
	return append(dst, 4, channel, seq, status)
}

// Tunnel is the connection header of a tunnelling request or ack.
type Tunnel struct {
	Channel, Seq, Status byte
	CEMI                 []byte // requests only
}

// ParseTunnel decodes the body of a TUNNELLING_REQUEST or _ACK.
func ParseTunnel(body []byte) (Tunnel, error) {
	if len(body) < 4 || body[0] != 4 {
		return Tunnel{}, errors.New("knxnet/ip: bad connection header")
	}
	return Tunnel{Channel: body[1], Seq: body[2], Status: body[3], CEMI: body[4:]}, nil
}

// AppendRouting appends a ROUTING_INDICATION carrying cemi.
func AppendRouting(dst []byte, cemi []byte) []byte {
	dst = appendHeader(dst, RoutingIndication, len(cemi))
	return append(dst, cemi...)
}
