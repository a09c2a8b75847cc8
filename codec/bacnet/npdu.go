package bacnet

import (
	"encoding/binary"
	"fmt"
)

// Network layer message types (clause 6.2.4).
const (
	NetWhoIsRouterToNetwork   = 0x00
	NetIAmRouterToNetwork     = 0x01
	NetICouldBeRouter         = 0x02
	NetRejectMessageToNetwork = 0x03
	NetRouterBusyToNetwork    = 0x04
	NetRouterAvailable        = 0x05
	NetInitRoutingTable       = 0x06
	NetInitRoutingTableAck    = 0x07
	NetEstablishConnection    = 0x08
	NetDisconnectConnection   = 0x09
	NetWhatIsNetworkNumber    = 0x12
	NetNetworkNumberIs        = 0x13
)

// GlobalNetwork is the DNET of a global broadcast.
const GlobalNetwork = 0xFFFF

// Address is a network address beyond the local link: a network number
// and a MAC address on it (empty MAC: broadcast on that network).
type Address struct {
	Net uint16
	MAC []byte
}

// NPDU is a decoded network layer protocol data unit.
type NPDU struct {
	// ExpectingReply is the data expecting reply bit.
	ExpectingReply bool
	// Priority is the network priority (0 normal .. 3 life safety).
	Priority uint8
	// Dest is the remote destination (DNET/DADR) when HasDest.
	Dest    Address
	HasDest bool
	// Source is the remote source (SNET/SADR) when HasSource.
	Source    Address
	HasSource bool
	// HopCount is present with a destination; AppendNPDU writes 255 for 0.
	HopCount uint8
	// Network is true for a network layer message: then MessageType
	// (and VendorID for proprietary types >= 0x80) is set and Payload is
	// the message's data; otherwise Payload is the APDU.
	Network     bool
	MessageType byte
	VendorID    uint16
	Payload     []byte
}

// DecodeNPDU decodes an NPDU. Payload aliases b.
func DecodeNPDU(b []byte) (NPDU, error) {
	if len(b) < 2 {
		return NPDU{}, fmt.Errorf("%w: NPDU of %d octets", ErrTruncated, len(b))
	}
	if b[0] != 0x01 {
		return NPDU{}, fmt.Errorf("bacnet: NPDU version %d", b[0])
	}
	c := b[1]
	if c&0x50 != 0 {
		return NPDU{}, fmt.Errorf("bacnet: NPDU control 0x%02X has reserved bits set", c)
	}
	n := NPDU{Network: c&0x80 != 0, ExpectingReply: c&0x04 != 0, Priority: c & 0x03}
	off := 2
	addr := func(what string) (Address, error) {
		if len(b) < off+3 {
			return Address{}, fmt.Errorf("%w: NPDU %s", ErrTruncated, what)
		}
		a := Address{Net: binary.BigEndian.Uint16(b[off:])}
		l := int(b[off+2])
		off += 3
		if len(b) < off+l {
			return Address{}, fmt.Errorf("%w: NPDU %s address", ErrTruncated, what)
		}
		if l > 0 {
			a.MAC = b[off : off+l]
		}
		off += l
		return a, nil
	}
	var err error
	if c&0x20 != 0 {
		if n.Dest, err = addr("DNET"); err != nil {
			return NPDU{}, err
		}
		if n.Dest.Net == 0 {
			return NPDU{}, fmt.Errorf("bacnet: NPDU DNET 0")
		}
		n.HasDest = true
	}
	if c&0x08 != 0 {
		if n.Source, err = addr("SNET"); err != nil {
			return NPDU{}, err
		}
		if n.Source.Net == 0 || n.Source.Net == GlobalNetwork || len(n.Source.MAC) == 0 {
			return NPDU{}, fmt.Errorf("bacnet: NPDU source network %d with a %d-octet address", n.Source.Net, len(n.Source.MAC))
		}
		n.HasSource = true
	}
	if n.HasDest {
		if len(b) < off+1 {
			return NPDU{}, fmt.Errorf("%w: NPDU hop count", ErrTruncated)
		}
		n.HopCount = b[off]
		off++
	}
	if n.Network {
		if len(b) < off+1 {
			return NPDU{}, fmt.Errorf("%w: network message type", ErrTruncated)
		}
		n.MessageType = b[off]
		off++
		if n.MessageType >= 0x80 {
			if len(b) < off+2 {
				return NPDU{}, fmt.Errorf("%w: network message vendor", ErrTruncated)
			}
			n.VendorID = binary.BigEndian.Uint16(b[off:])
			off += 2
		}
	}
	n.Payload = b[off:]
	return n, nil
}

// AppendNPDU appends the encoding of n.
func AppendNPDU(b []byte, n NPDU) ([]byte, error) {
	c := n.Priority & 0x03
	if n.Network {
		c |= 0x80
	}
	if n.HasDest {
		c |= 0x20
	}
	if n.HasSource {
		c |= 0x08
	}
	if n.ExpectingReply {
		c |= 0x04
	}
	b = append(b, 0x01, c)
	if n.HasDest {
		if n.Dest.Net == 0 || len(n.Dest.MAC) > 255 {
			return b, fmt.Errorf("bacnet: bad destination network %d", n.Dest.Net)
		}
		b = binary.BigEndian.AppendUint16(b, n.Dest.Net)
		b = append(b, byte(len(n.Dest.MAC)))
		b = append(b, n.Dest.MAC...)
	}
	if n.HasSource {
		if n.Source.Net == 0 || n.Source.Net == GlobalNetwork || len(n.Source.MAC) == 0 || len(n.Source.MAC) > 255 {
			return b, fmt.Errorf("bacnet: bad source network %d", n.Source.Net)
		}
		b = binary.BigEndian.AppendUint16(b, n.Source.Net)
		b = append(b, byte(len(n.Source.MAC)))
		b = append(b, n.Source.MAC...)
	}
	if n.HasDest {
		h := n.HopCount
		if h == 0 {
			h = 255
		}
		b = append(b, h)
	}
	if n.Network {
		b = append(b, n.MessageType)
		if n.MessageType >= 0x80 {
			b = binary.BigEndian.AppendUint16(b, n.VendorID)
		}
	}
	return append(b, n.Payload...), nil
}

// DecodeNetworkList decodes the list of 2-octet network numbers of an
// I-Am-Router-To-Network (and the optional one of a Who-Is-Router).
func DecodeNetworkList(p []byte) ([]uint16, error) {
	if len(p)%2 != 0 {
		return nil, fmt.Errorf("bacnet: network list of %d octets", len(p))
	}
	out := make([]uint16, len(p)/2)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(p[2*i:])
	}
	return out, nil
}

// AppendNetworkList appends network numbers as 2-octet values.
func AppendNetworkList(b []byte, nets ...uint16) []byte {
	for _, n := range nets {
		b = binary.BigEndian.AppendUint16(b, n)
	}
	return b
}

// RejectMessage is the content of a Reject-Message-To-Network.
type RejectMessage struct {
	Reason byte
	Net    uint16
}

// DecodeRejectMessage decodes a Reject-Message-To-Network payload.
func DecodeRejectMessage(p []byte) (RejectMessage, error) {
	if len(p) != 3 {
		return RejectMessage{}, fmt.Errorf("bacnet: Reject-Message-To-Network of %d octets", len(p))
	}
	return RejectMessage{Reason: p[0], Net: binary.BigEndian.Uint16(p[1:])}, nil
}
