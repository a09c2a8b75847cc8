package bacnet

import (
	"fmt"
)

// PDU types (high nibble of the first APDU octet).
const (
	PDUConfirmedRequest   = 0
	PDUUnconfirmedRequest = 1
	PDUSimpleACK          = 2
	PDUComplexACK         = 3
	PDUSegmentACK         = 4
	PDUError              = 5
	PDUReject             = 6
	PDUAbort              = 7
)

// Confirmed service choices.
const (
	ServiceConfirmedCOVNotification = 1
	ServiceSubscribeCOV             = 5
	ServiceReadProperty             = 12
	ServiceReadPropertyMultiple     = 14
	ServiceWriteProperty            = 15
	ServiceWritePropertyMultiple    = 16
	ServiceSubscribeCOVProperty     = 28
)

// Unconfirmed service choices.
const (
	ServiceIAm                        = 0
	ServiceIHave                      = 1
	ServiceUnconfirmedCOVNotification = 2
	ServiceWhoHas                     = 7
	ServiceWhoIs                      = 8
)

var maxAPDUSizes = [...]int{50, 128, 206, 480, 1024, 1476}

// EncodeMaxAPDU returns the 4-bit code of the largest standard APDU size
// not above n (at least 50).
func EncodeMaxAPDU(n int) uint8 {
	code := uint8(0)
	for i, s := range maxAPDUSizes {
		if n >= s {
			code = uint8(i)
		}
	}
	return code
}

// DecodeMaxAPDU returns the APDU size of a 4-bit code (reserved codes:
// 50, the minimum every device accepts).
func DecodeMaxAPDU(code uint8) int {
	if int(code) < len(maxAPDUSizes) {
		return maxAPDUSizes[code]
	}
	return 50
}

// EncodeMaxSegments returns the 3-bit code for a maximum number of
// segments accepted (0: unspecified; above 64: 7).
func EncodeMaxSegments(n int) uint8 {
	switch {
	case n <= 0:
		return 0
	case n > 64:
		return 7
	}
	code := uint8(1)
	for s := 2; s < n && code < 6; s *= 2 {
		code++
	}
	return code
}

// DecodeMaxSegments returns the segment count of a 3-bit code (0 for
// unspecified, 128 standing for "more than 64").
func DecodeMaxSegments(code uint8) int {
	switch {
	case code == 0:
		return 0
	case code >= 7:
		return 128
	}
	return 1 << code
}

// APDU is a decoded application layer PDU header with its service data.
type APDU struct {
	Type byte // PDU* constant
	// Confirmed request: segmented-response-accepted, max segments and
	// max APDU accepted by the requester.
	SegmentedResponseAccepted bool
	MaxSegments               uint8 // 3-bit code
	MaxAPDU                   uint8 // 4-bit code
	InvokeID                  uint8
	// Segmented messages (confirmed request, complex ACK).
	Segmented   bool
	MoreFollows bool
	Sequence    uint8
	WindowSize  uint8 // proposed (segment) or actual (SegmentACK) window
	Service     byte  // service choice (requests, ACKs, Error)
	NAK         bool  // SegmentACK negative
	Server      bool  // SegmentACK/Abort sent by the server
	Reason      byte  // Reject and Abort reason
	ServiceData []byte
}

// DecodeAPDU decodes an APDU header. ServiceData aliases b.
func DecodeAPDU(b []byte) (APDU, error) {
	if len(b) < 1 {
		return APDU{}, fmt.Errorf("%w: empty APDU", ErrTruncated)
	}
	a := APDU{Type: b[0] >> 4}
	need := func(n int, what string) error {
		if len(b) < n {
			return fmt.Errorf("%w: %s of %d octets", ErrTruncated, what, len(b))
		}
		return nil
	}
	switch a.Type {
	case PDUConfirmedRequest:
		if err := need(4, "confirmed request"); err != nil {
			return APDU{}, err
		}
		a.Segmented, a.MoreFollows, a.SegmentedResponseAccepted = b[0]&0x08 != 0, b[0]&0x04 != 0, b[0]&0x02 != 0
		a.MaxSegments, a.MaxAPDU = (b[1]>>4)&0x07, b[1]&0x0F
		a.InvokeID = b[2]
		off := 3
		if a.Segmented {
			if err := need(6, "segmented confirmed request"); err != nil {
				return APDU{}, err
			}
			a.Sequence, a.WindowSize = b[3], b[4]
			off = 5
		}
		a.Service = b[off]
		a.ServiceData = b[off+1:]
	case PDUUnconfirmedRequest:
		if err := need(2, "unconfirmed request"); err != nil {
			return APDU{}, err
		}
		a.Service = b[1]
		a.ServiceData = b[2:]
	case PDUSimpleACK:
		if len(b) != 3 {
			return APDU{}, fmt.Errorf("bacnet: SimpleACK of %d octets", len(b))
		}
		a.InvokeID, a.Service = b[1], b[2]
	case PDUComplexACK:
		if err := need(3, "ComplexACK"); err != nil {
			return APDU{}, err
		}
		a.Segmented, a.MoreFollows = b[0]&0x08 != 0, b[0]&0x04 != 0
		a.InvokeID = b[1]
		off := 2
		if a.Segmented {
			if err := need(5, "segmented ComplexACK"); err != nil {
				return APDU{}, err
			}
			a.Sequence, a.WindowSize = b[2], b[3]
			off = 4
		}
		a.Service = b[off]
		a.ServiceData = b[off+1:]
	case PDUSegmentACK:
		if len(b) != 4 {
			return APDU{}, fmt.Errorf("bacnet: SegmentACK of %d octets", len(b))
		}
		a.NAK, a.Server = b[0]&0x02 != 0, b[0]&0x01 != 0
		a.InvokeID, a.Sequence, a.WindowSize = b[1], b[2], b[3]
	case PDUError:
		if err := need(3, "Error"); err != nil {
			return APDU{}, err
		}
		a.InvokeID, a.Service = b[1], b[2]
		a.ServiceData = b[3:]
	case PDUReject:
		if len(b) != 3 {
			return APDU{}, fmt.Errorf("bacnet: Reject of %d octets", len(b))
		}
		a.InvokeID, a.Reason = b[1], b[2]
	case PDUAbort:
		if len(b) != 3 {
			return APDU{}, fmt.Errorf("bacnet: Abort of %d octets", len(b))
		}
		a.Server = b[0]&0x01 != 0
		a.InvokeID, a.Reason = b[1], b[2]
	default:
		return APDU{}, fmt.Errorf("bacnet: reserved PDU type %d", a.Type)
	}
	return a, nil
}

// AppendAPDU appends the encoding of a.
func AppendAPDU(b []byte, a APDU) ([]byte, error) {
	switch a.Type {
	case PDUConfirmedRequest:
		h := byte(0)
		if a.Segmented {
			h |= 0x08
		}
		if a.MoreFollows {
			h |= 0x04
		}
		if a.SegmentedResponseAccepted {
			h |= 0x02
		}
		b = append(b, h, (a.MaxSegments&0x07)<<4|a.MaxAPDU&0x0F, a.InvokeID)
		if a.Segmented {
			b = append(b, a.Sequence, a.WindowSize)
		}
		b = append(b, a.Service)
		return append(b, a.ServiceData...), nil
	case PDUUnconfirmedRequest:
		return append(append(b, 0x10, a.Service), a.ServiceData...), nil
	case PDUSimpleACK:
		return append(b, 0x20, a.InvokeID, a.Service), nil
	case PDUComplexACK:
		h := byte(0x30)
		if a.Segmented {
			h |= 0x08
		}
		if a.MoreFollows {
			h |= 0x04
		}
		b = append(b, h, a.InvokeID)
		if a.Segmented {
			b = append(b, a.Sequence, a.WindowSize)
		}
		b = append(b, a.Service)
		return append(b, a.ServiceData...), nil
	case PDUSegmentACK:
		h := byte(0x40)
		if a.NAK {
			h |= 0x02
		}
		if a.Server {
			h |= 0x01
		}
		return append(b, h, a.InvokeID, a.Sequence, a.WindowSize), nil
	case PDUError:
		return append(append(b, 0x50, a.InvokeID, a.Service), a.ServiceData...), nil
	case PDUReject:
		return append(b, 0x60, a.InvokeID, a.Reason), nil
	case PDUAbort:
		h := byte(0x70)
		if a.Server {
			h |= 0x01
		}
		return append(b, h, a.InvokeID, a.Reason), nil
	}
	return b, fmt.Errorf("bacnet: reserved PDU type %d", a.Type)
}

// HeaderLen is the APDU header length of a segment of this type, used to
// compute how much service data fits a maximum APDU size.
func (a APDU) HeaderLen() int {
	switch a.Type {
	case PDUConfirmedRequest:
		if a.Segmented {
			return 6
		}
		return 4
	case PDUComplexACK:
		if a.Segmented {
			return 5
		}
		return 3
	}
	return 3
}

// Error is a BACnet Error PDU (or an error inside a service result):
// an error class and an error code.
type Error struct {
	Class, Code uint32
}

func (e *Error) Error() string {
	c, ok := errorCodeNames()[e.Code]
	if !ok {
		c = fmt.Sprintf("errorCode%d", e.Code)
	}
	return "bacnet error " + nameOr(errorClassNames, e.Class, "errorClass") + ":" + c
}

// DecodeError decodes the service data of an Error PDU. The error of
// services with a complex error type (clause 21, e.g. WritePropertyMultiple)
// is inside context tag 0, which is accepted too; what follows it is
// ignored.
func DecodeError(p []byte) (*Error, error) {
	r := &reader{b: p}
	wrapped := r.isOpening(0)
	if wrapped {
		_ = r.open(0)
	}
	cls, err := r.appEnum()
	if err != nil {
		return nil, fmt.Errorf("bacnet: error class: %w", err)
	}
	code, err := r.appEnum()
	if err != nil {
		return nil, fmt.Errorf("bacnet: error code: %w", err)
	}
	if wrapped {
		if err := r.close(0); err != nil {
			return nil, err
		}
	} else if err := r.end(); err != nil {
		return nil, err
	}
	return &Error{Class: cls, Code: code}, nil
}

// AppendError appends the service data of a simple Error PDU.
func AppendError(b []byte, e Error) []byte {
	return AppendEnumerated(AppendEnumerated(b, e.Class), e.Code)
}

// RejectError is a Reject PDU received for a request.
type RejectError struct{ Reason byte }

func (e *RejectError) Error() string {
	return "bacnet reject: " + nameOr(rejectNames, uint32(e.Reason), "reason")
}

// AbortError is an Abort PDU received for a request.
type AbortError struct {
	Reason byte
	Server bool
}

func (e *AbortError) Error() string {
	return "bacnet abort: " + nameOr(abortNames, uint32(e.Reason), "reason")
}

// Abort reasons used by the segmentation machinery.
const (
	AbortOther                    = 0
	AbortBufferOverflow           = 1
	AbortInvalidAPDUInThisState   = 2
	AbortSegmentationNotSupported = 4
	AbortWindowSizeOutOfRange     = 7
	AbortApplicationExceededReply = 8
	AbortOutOfResources           = 9
	AbortTSMTimeout               = 10
	AbortAPDUTooLong              = 11
)
