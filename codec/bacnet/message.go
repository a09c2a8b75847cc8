package bacnet

import "fmt"

// Message is one fully decoded BACnet/IP datagram.
type Message struct {
	BVLC BVLC
	NPDU NPDU
	// APDU is set when NPDU carries one (not a network layer message).
	APDU APDU
}

// DecodeMessage decodes a datagram down to the APDU header. Datagrams that
// carry no NPDU (BVLC-Result, table management) return with only BVLC set.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	var err error
	if m.BVLC, err = DecodeBVLC(b); err != nil {
		return Message{}, err
	}
	if !m.BVLC.CarriesNPDU() {
		return m, nil
	}
	if m.NPDU, err = DecodeNPDU(m.BVLC.NPDU); err != nil {
		return Message{}, err
	}
	if m.NPDU.Network {
		return m, nil
	}
	if m.APDU, err = DecodeAPDU(m.NPDU.Payload); err != nil {
		return Message{}, err
	}
	return m, nil
}

// AppendMessage builds a datagram: the BVLC function fn (Original-Unicast,
// Original-Broadcast or Distribute-Broadcast-To-Network), network header n
// and APDU a (ignored when n.Network).
func AppendMessage(b []byte, fn byte, n NPDU, a APDU) ([]byte, error) {
	if !n.Network {
		p, err := AppendAPDU(nil, a)
		if err != nil {
			return b, err
		}
		n.Payload = p
	}
	np, err := AppendNPDU(nil, n)
	if err != nil {
		return b, err
	}
	switch fn {
	case BVLCOriginalUnicastNPDU, BVLCOriginalBroadcastNPDU, BVLCDistributeBroadcastToNetwrk:
	default:
		return b, fmt.Errorf("bacnet: BVLC function 0x%02X does not originate an NPDU", fn)
	}
	return AppendBVLC(b, BVLC{Function: fn, NPDU: np})
}
