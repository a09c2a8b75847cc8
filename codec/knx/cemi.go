package knx

import (
	"errors"
	"fmt"
)

// cEMI message codes.
const (
	LDataReq byte = 0x11
	LDataCon byte = 0x2e
	LDataInd byte = 0x29
)

// Application services of group communication (10-bit APCI, upper bits).
const (
	GroupValueRead     uint16 = 0x000
	GroupValueResponse uint16 = 0x040
	GroupValueWrite    uint16 = 0x080
)

// Default control fields: standard frame, do not repeat, broadcast, low
// priority; destination is a group address, hop count 6.
const (
	DefaultCtrl1 byte = 0xbc
	DefaultCtrl2 byte = 0xe0
)

// CEMI is an L_Data frame carrying a group service.
type CEMI struct {
	Code         byte
	Ctrl1, Ctrl2 byte
	Src          Individual
	Dst          uint16 // a Group when Ctrl2 bit 7 is set
	APCI         uint16 // GroupValueRead, GroupValueResponse, GroupValueWrite, ...
	Data         []byte // payload after the APCI; nil with Small
	Small        byte   // 6-bit value carried in the APCI (DPT 1-3)
	IsSmall      bool
}

// GroupDst reports whether the destination is a group address.
func (c *CEMI) GroupDst() bool { return c.Ctrl2&0x80 != 0 }

// Confirmed reports, for an L_Data.con, whether the frame was sent.
func (c *CEMI) Confirmed() bool { return c.Ctrl1&0x01 == 0 }

// Append encodes c.
func (c CEMI) Append(dst []byte) []byte {
	dst = append(dst, c.Code, 0, c.Ctrl1, c.Ctrl2, byte(c.Src>>8), byte(c.Src), byte(c.Dst>>8), byte(c.Dst))
	if c.IsSmall || (c.APCI == GroupValueRead && len(c.Data) == 0) {
		return append(dst, 1, byte(c.APCI>>8)&3, byte(c.APCI)|c.Small&0x3f)
	}
	dst = append(dst, byte(1+len(c.Data)), byte(c.APCI>>8)&3, byte(c.APCI))
	return append(dst, c.Data...)
}

// ParseCEMI decodes an L_Data frame. Data aliases b.
func ParseCEMI(b []byte) (CEMI, error) {
	var c CEMI
	if len(b) < 2 {
		return c, errors.New("cemi: short frame")
	}
	c.Code = b[0]
	switch c.Code {
	case LDataReq, LDataCon, LDataInd:
	default:
		return c, fmt.Errorf("cemi: message code 0x%02x is not L_Data", c.Code)
	}
	off := 2 + int(b[1]) // additional info
	if len(b) < off+7 {
		return c, errors.New("cemi: short L_Data frame")
	}
	b = b[off:]
	c.Ctrl1, c.Ctrl2 = b[0], b[1]
	c.Src = Individual(uint16(b[2])<<8 | uint16(b[3]))
	c.Dst = uint16(b[4])<<8 | uint16(b[5])
	n := int(b[6])
	tpdu := b[7:]
	if len(tpdu) != n+1 {
		return c, fmt.Errorf("cemi: length field %d, %d bytes of TPDU", n, len(tpdu))
	}
	if n == 0 { // a bare transport control frame (no APCI)
		return c, nil
	}
	apci := uint16(tpdu[0]&3)<<8 | uint16(tpdu[1])
	if n == 1 {
		c.APCI = apci & 0x3c0
		c.Small, c.IsSmall = byte(apci&0x3f), true
		return c, nil
	}
	c.APCI = apci & 0x3c0
	c.Data = tpdu[2:]
	return c, nil
}
