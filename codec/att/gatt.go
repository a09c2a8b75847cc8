package att

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Props are characteristic properties (Characteristic Declaration).
type Props uint8

// Property bits.
const (
	PropBroadcast   Props = 0x01
	PropRead        Props = 0x02
	PropWriteNoResp Props = 0x04
	PropWrite       Props = 0x08
	PropNotify      Props = 0x10
	PropIndicate    Props = 0x20
	PropSignedWrite Props = 0x40
	PropExtended    Props = 0x80
)

var propNames = []string{"broadcast", "read", "write-without-response", "write", "notify", "indicate",
	"authenticated-signed-writes", "extended-properties"}

func (p Props) String() string {
	var s []string
	for i, n := range propNames {
		if p&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	return strings.Join(s, ",")
}

// CCCD values.
const (
	CCCNotify   uint16 = 0x0001
	CCCIndicate uint16 = 0x0002
)

// CharDecl is the value of a Characteristic Declaration attribute.
type CharDecl struct {
	Props       Props
	ValueHandle uint16
	UUID        UUID
}

// ParseCharDecl decodes a characteristic declaration value (5 or 19 bytes).
func ParseCharDecl(v []byte) (CharDecl, error) {
	if len(v) != 5 && len(v) != 19 {
		return CharDecl{}, fmt.Errorf("att: characteristic declaration of %d bytes, want 5 or 19", len(v))
	}
	u, err := FromWire(v[3:])
	if err != nil {
		return CharDecl{}, err
	}
	return CharDecl{Props: Props(v[0]), ValueHandle: binary.LittleEndian.Uint16(v[1:]), UUID: u}, nil
}

// Append appends the declaration value.
func (c CharDecl) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(append(b, byte(c.Props)), c.ValueHandle)
	return append(b, c.UUID.b[:c.UUID.n]...)
}

// ParseServiceDecl decodes a service declaration value (a 2 or 16 byte UUID).
func ParseServiceDecl(v []byte) (UUID, error) {
	if len(v) != 2 && len(v) != 16 {
		return UUID{}, fmt.Errorf("att: service declaration of %d bytes, want 2 or 16", len(v))
	}
	return FromWire(v)
}
