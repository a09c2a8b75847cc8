package bacnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// BVLCType is the first octet of every BACnet/IP datagram.
const BVLCType = 0x81

// BVLC functions (Annex J.2).
const (
	BVLCResult                      = 0x00
	BVLCWriteBDT                    = 0x01
	BVLCReadBDT                     = 0x02
	BVLCReadBDTAck                  = 0x03
	BVLCForwardedNPDU               = 0x04
	BVLCRegisterForeignDevice       = 0x05
	BVLCReadFDT                     = 0x06
	BVLCReadFDTAck                  = 0x07
	BVLCDeleteFDTEntry              = 0x08
	BVLCDistributeBroadcastToNetwrk = 0x09
	BVLCOriginalUnicastNPDU         = 0x0A
	BVLCOriginalBroadcastNPDU       = 0x0B
)

// BVLC result codes.
const (
	BVLCSuccess                  = 0x0000
	BVLCWriteBDTNAK              = 0x0010
	BVLCReadBDTNAK               = 0x0020
	BVLCRegisterForeignDeviceNAK = 0x0030
	BVLCReadFDTNAK               = 0x0040
	BVLCDeleteFDTEntryNAK        = 0x0050
	BVLCDistributeBroadcastNAK   = 0x0060
)

// BVLC is one decoded BACnet Virtual Link Control message.
type BVLC struct {
	Function byte
	// Origin is the original source of a Forwarded-NPDU.
	Origin netip.AddrPort
	// Result is the code of a BVLC-Result.
	Result uint16
	// TTL is the time-to-live of a Register-Foreign-Device, seconds.
	TTL uint16
	// NPDU is the network layer payload of the NPDU carrying functions, or
	// the raw payload of the other ones (tables).
	NPDU []byte
}

// CarriesNPDU reports whether the function carries an NPDU.
func (m BVLC) CarriesNPDU() bool {
	switch m.Function {
	case BVLCForwardedNPDU, BVLCDistributeBroadcastToNetwrk, BVLCOriginalUnicastNPDU, BVLCOriginalBroadcastNPDU:
		return true
	}
	return false
}

// DecodeBVLC decodes a BACnet/IP datagram's BVLC header. NPDU aliases b.
func DecodeBVLC(b []byte) (BVLC, error) {
	if len(b) < 4 {
		return BVLC{}, fmt.Errorf("%w: BVLC header of %d octets", ErrTruncated, len(b))
	}
	if b[0] != BVLCType {
		return BVLC{}, fmt.Errorf("bacnet: BVLC type 0x%02X is not BACnet/IP", b[0])
	}
	l := int(binary.BigEndian.Uint16(b[2:]))
	if l < 4 || l > len(b) {
		return BVLC{}, fmt.Errorf("bacnet: BVLC length %d for a %d-octet datagram", l, len(b))
	}
	if l < len(b) {
		return BVLC{}, fmt.Errorf("bacnet: %d octets after the BVLC length %d", len(b)-l, l)
	}
	m := BVLC{Function: b[1]}
	p := b[4:l]
	switch m.Function {
	case BVLCResult:
		if len(p) != 2 {
			return BVLC{}, fmt.Errorf("bacnet: BVLC-Result of %d octets", len(p))
		}
		m.Result = binary.BigEndian.Uint16(p)
	case BVLCRegisterForeignDevice:
		if len(p) != 2 {
			return BVLC{}, fmt.Errorf("bacnet: Register-Foreign-Device of %d octets", len(p))
		}
		m.TTL = binary.BigEndian.Uint16(p)
	case BVLCForwardedNPDU:
		if len(p) < 6 {
			return BVLC{}, fmt.Errorf("%w: Forwarded-NPDU without its origin", ErrTruncated)
		}
		m.Origin = DecodeBIPAddress(p[:6])
		m.NPDU = p[6:]
	case BVLCDistributeBroadcastToNetwrk, BVLCOriginalUnicastNPDU, BVLCOriginalBroadcastNPDU,
		BVLCWriteBDT, BVLCReadBDT, BVLCReadBDTAck, BVLCReadFDT, BVLCReadFDTAck, BVLCDeleteFDTEntry:
		m.NPDU = p
	default:
		return BVLC{}, fmt.Errorf("bacnet: unknown BVLC function 0x%02X", m.Function)
	}
	if m.CarriesNPDU() && len(m.NPDU) < 2 {
		return BVLC{}, fmt.Errorf("%w: NPDU of %d octets", ErrTruncated, len(m.NPDU))
	}
	return m, nil
}

// AppendBVLC appends the datagram for m.
func AppendBVLC(b []byte, m BVLC) ([]byte, error) {
	start := len(b)
	b = append(b, BVLCType, m.Function, 0, 0)
	switch m.Function {
	case BVLCResult:
		b = binary.BigEndian.AppendUint16(b, m.Result)
	case BVLCRegisterForeignDevice:
		b = binary.BigEndian.AppendUint16(b, m.TTL)
	case BVLCForwardedNPDU:
		if !m.Origin.Addr().Unmap().Is4() {
			return b[:start], fmt.Errorf("bacnet: Forwarded-NPDU origin %v is not IPv4", m.Origin)
		}
		b = AppendBIPAddress(b, m.Origin)
		b = append(b, m.NPDU...)
	case BVLCDistributeBroadcastToNetwrk, BVLCOriginalUnicastNPDU, BVLCOriginalBroadcastNPDU,
		BVLCWriteBDT, BVLCReadBDT, BVLCReadBDTAck, BVLCReadFDT, BVLCReadFDTAck, BVLCDeleteFDTEntry:
		b = append(b, m.NPDU...)
	default:
		return b[:start], fmt.Errorf("bacnet: unknown BVLC function 0x%02X", m.Function)
	}
	if len(b)-start > 0xFFFF {
		return b[:start], fmt.Errorf("bacnet: BVLC message of %d octets", len(b)-start)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

// DecodeBIPAddress decodes a 6-octet B/IP address (IPv4 and port).
func DecodeBIPAddress(b []byte) netip.AddrPort {
	if len(b) != 6 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:]))
}

// AppendBIPAddress appends the 6-octet B/IP form of an IPv4 address and port.
func AppendBIPAddress(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap().As4()
	b = append(b, ip[:]...)
	return binary.BigEndian.AppendUint16(b, a.Port())
}
