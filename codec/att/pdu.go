package att

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opcode is the first byte of every ATT PDU.
type Opcode uint8

// Opcodes.
const (
	OpError              Opcode = 0x01
	OpMTUReq             Opcode = 0x02
	OpMTURsp             Opcode = 0x03
	OpFindInfoReq        Opcode = 0x04
	OpFindInfoRsp        Opcode = 0x05
	OpFindByTypeValueReq Opcode = 0x06
	OpFindByTypeValueRsp Opcode = 0x07
	OpReadByTypeReq      Opcode = 0x08
	OpReadByTypeRsp      Opcode = 0x09
	OpReadReq            Opcode = 0x0A
	OpReadRsp            Opcode = 0x0B
	OpReadBlobReq        Opcode = 0x0C
	OpReadBlobRsp        Opcode = 0x0D
	OpReadByGroupReq     Opcode = 0x10
	OpReadByGroupRsp     Opcode = 0x11
	OpWriteReq           Opcode = 0x12
	OpWriteRsp           Opcode = 0x13
	OpPrepareWriteReq    Opcode = 0x16
	OpPrepareWriteRsp    Opcode = 0x17
	OpExecuteWriteReq    Opcode = 0x18
	OpExecuteWriteRsp    Opcode = 0x19
	OpNotify             Opcode = 0x1B
	OpIndicate           Opcode = 0x1D
	OpConfirm            Opcode = 0x1E
	OpWriteCmd           Opcode = 0x52
)

// DefaultMTU is the LE ATT MTU before an MTU exchange; MaxMTU the largest
// an ATT bearer may agree on; MaxValue the longest attribute value.
const (
	DefaultMTU = 23
	MaxMTU     = 517
	MaxValue   = 512
)

// IsRequest reports whether op is a request that the peer must answer
// with a response or an Error Response.
func (op Opcode) IsRequest() bool {
	switch op {
	case OpMTUReq, OpFindInfoReq, OpFindByTypeValueReq, OpReadByTypeReq, OpReadReq,
		OpReadBlobReq, 0x0E, OpReadByGroupReq, OpWriteReq, OpPrepareWriteReq, OpExecuteWriteReq, 0x20:
		return true
	}
	return false
}

// IsResponse reports whether op answers a request (Error Response included).
func (op Opcode) IsResponse() bool {
	return op == OpError || (op != OpConfirm && op&0x40 == 0 && op&1 == 1 && Opcode(op-1).IsRequest())
}

func (op Opcode) String() string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("opcode 0x%02x", uint8(op))
}

var opNames = map[Opcode]string{
	OpError: "Error Response", OpMTUReq: "Exchange MTU Request", OpMTURsp: "Exchange MTU Response",
	OpFindInfoReq: "Find Information Request", OpFindInfoRsp: "Find Information Response",
	OpFindByTypeValueReq: "Find By Type Value Request", OpFindByTypeValueRsp: "Find By Type Value Response",
	OpReadByTypeReq: "Read By Type Request", OpReadByTypeRsp: "Read By Type Response",
	OpReadReq: "Read Request", OpReadRsp: "Read Response", OpReadBlobReq: "Read Blob Request",
	OpReadBlobRsp: "Read Blob Response", OpReadByGroupReq: "Read By Group Type Request",
	OpReadByGroupRsp: "Read By Group Type Response", OpWriteReq: "Write Request",
	OpWriteRsp: "Write Response", OpNotify: "Handle Value Notification",
	OpIndicate: "Handle Value Indication", OpConfirm: "Handle Value Confirmation", OpWriteCmd: "Write Command",
	OpPrepareWriteReq: "Prepare Write Request", OpPrepareWriteRsp: "Prepare Write Response",
	OpExecuteWriteReq: "Execute Write Request", OpExecuteWriteRsp: "Execute Write Response",
}

// PDU is a decoded ATT PDU.
type PDU interface {
	Op() Opcode
	// Append appends the PDU's encoding (opcode first) to b.
	Append(b []byte) []byte
}

// Encode returns p's encoding.
func Encode(p PDU) []byte { return p.Append(nil) }

// ErrShort is wrapped by Decode errors for truncated PDUs.
var ErrShort = errors.New("truncated")

// ErrorCode is an ATT Error Response code.
type ErrorCode uint8

// Error codes.
const (
	ErrInvalidHandle        ErrorCode = 0x01
	ErrReadNotPermitted     ErrorCode = 0x02
	ErrWriteNotPermitted    ErrorCode = 0x03
	ErrInvalidPDU           ErrorCode = 0x04
	ErrInsufficientAuthn    ErrorCode = 0x05
	ErrRequestNotSupported  ErrorCode = 0x06
	ErrInvalidOffset        ErrorCode = 0x07
	ErrInsufficientAuthz    ErrorCode = 0x08
	ErrPrepareQueueFull     ErrorCode = 0x09
	ErrAttributeNotFound    ErrorCode = 0x0A
	ErrAttributeNotLong     ErrorCode = 0x0B
	ErrInvalidValueLength   ErrorCode = 0x0D
	ErrUnlikely             ErrorCode = 0x0E
	ErrInsufficientEncrypt  ErrorCode = 0x0F
	ErrUnsupportedGroupType ErrorCode = 0x10
	ErrInsufficientResource ErrorCode = 0x11
)

var codeNames = map[ErrorCode]string{
	ErrInvalidHandle: "invalid handle", ErrReadNotPermitted: "read not permitted",
	ErrWriteNotPermitted: "write not permitted", ErrInvalidPDU: "invalid PDU",
	ErrInsufficientAuthn: "insufficient authentication", ErrRequestNotSupported: "request not supported",
	ErrInvalidOffset: "invalid offset", ErrInsufficientAuthz: "insufficient authorization",
	ErrPrepareQueueFull:  "prepare queue full",
	ErrAttributeNotFound: "attribute not found", ErrAttributeNotLong: "attribute not long",
	ErrInvalidValueLength: "invalid attribute value length", ErrUnlikely: "unlikely error",
	ErrInsufficientEncrypt: "insufficient encryption", ErrUnsupportedGroupType: "unsupported group type",
	ErrInsufficientResource: "insufficient resources",
}

func (c ErrorCode) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("error 0x%02x", uint8(c))
}

// ErrorRsp is an Error Response; it is also an error.
type ErrorRsp struct {
	Req    Opcode
	Handle uint16
	Code   ErrorCode
}

func (e *ErrorRsp) Op() Opcode { return OpError }
func (e *ErrorRsp) Append(b []byte) []byte {
	return append(binary.LittleEndian.AppendUint16(append(b, byte(OpError), byte(e.Req)), e.Handle), byte(e.Code))
}
func (e *ErrorRsp) Error() string {
	return fmt.Sprintf("att: %v for %v on handle 0x%04x", e.Code, e.Req, e.Handle)
}

// MTUReq and MTURsp exchange the ATT MTU.
type (
	MTUReq struct{ MTU uint16 }
	MTURsp struct{ MTU uint16 }
)

func (p *MTUReq) Op() Opcode { return OpMTUReq }
func (p *MTUReq) Append(b []byte) []byte {
	return binary.LittleEndian.AppendUint16(append(b, byte(OpMTUReq)), p.MTU)
}
func (p *MTURsp) Op() Opcode { return OpMTURsp }
func (p *MTURsp) Append(b []byte) []byte {
	return binary.LittleEndian.AppendUint16(append(b, byte(OpMTURsp)), p.MTU)
}

// Range is an inclusive attribute handle range.
type Range struct{ Start, End uint16 }

func (r Range) append(b []byte) []byte {
	return binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(b, r.Start), r.End)
}

// FindInfoReq asks for the types of the attributes in a range.
type FindInfoReq struct{ Range }

func (p *FindInfoReq) Op() Opcode { return OpFindInfoReq }
func (p *FindInfoReq) Append(b []byte) []byte {
	return p.Range.append(append(b, byte(OpFindInfoReq)))
}

// HandleType is one Find Information Response entry.
type HandleType struct {
	Handle uint16
	Type   UUID
}

// FindInfoRsp lists handles and types; all entries have the same UUID
// length (format 1: 16-bit, format 2: 128-bit).
type FindInfoRsp struct{ Entries []HandleType }

func (p *FindInfoRsp) Op() Opcode { return OpFindInfoRsp }
func (p *FindInfoRsp) Append(b []byte) []byte {
	format := byte(1)
	if len(p.Entries) > 0 && !p.Entries[0].Type.Is16() {
		format = 2
	}
	b = append(b, byte(OpFindInfoRsp), format)
	for _, e := range p.Entries {
		b = binary.LittleEndian.AppendUint16(b, e.Handle)
		if format == 1 {
			b = append(b, e.Type.b[:2]...)
		} else {
			l := e.Type.Long()
			b = append(b, l.b[:]...)
		}
	}
	return b
}

// ReadByTypeReq reads the attributes of one type in a range (used for
// characteristic declarations and reading by UUID).
type ReadByTypeReq struct {
	Range
	Type UUID
}

func (p *ReadByTypeReq) Op() Opcode { return OpReadByTypeReq }
func (p *ReadByTypeReq) Append(b []byte) []byte {
	return append(p.Range.append(append(b, byte(OpReadByTypeReq))), p.Type.b[:p.Type.n]...)
}

// HandleValue is one Read By Type Response entry.
type HandleValue struct {
	Handle uint16
	Value  []byte
}

// ReadByTypeRsp: every entry's value has the same length.
type ReadByTypeRsp struct{ Entries []HandleValue }

func (p *ReadByTypeRsp) Op() Opcode { return OpReadByTypeRsp }
func (p *ReadByTypeRsp) Append(b []byte) []byte {
	n := 2
	if len(p.Entries) > 0 {
		n += len(p.Entries[0].Value)
	}
	b = append(b, byte(OpReadByTypeRsp), byte(n))
	for _, e := range p.Entries {
		b = append(binary.LittleEndian.AppendUint16(b, e.Handle), e.Value...)
	}
	return b
}

// ReadByGroupReq reads grouping attributes (services) of one type.
type ReadByGroupReq struct {
	Range
	Type UUID
}

func (p *ReadByGroupReq) Op() Opcode { return OpReadByGroupReq }
func (p *ReadByGroupReq) Append(b []byte) []byte {
	return append(p.Range.append(append(b, byte(OpReadByGroupReq))), p.Type.b[:p.Type.n]...)
}

// GroupValue is one Read By Group Type Response entry.
type GroupValue struct {
	Range
	Value []byte
}

// ReadByGroupRsp: every entry's value has the same length.
type ReadByGroupRsp struct{ Entries []GroupValue }

func (p *ReadByGroupRsp) Op() Opcode { return OpReadByGroupRsp }
func (p *ReadByGroupRsp) Append(b []byte) []byte {
	n := 4
	if len(p.Entries) > 0 {
		n += len(p.Entries[0].Value)
	}
	b = append(b, byte(OpReadByGroupRsp), byte(n))
	for _, e := range p.Entries {
		b = append(e.Range.append(b), e.Value...)
	}
	return b
}

// ReadReq reads one attribute; ReadBlobReq reads from an offset.
type (
	ReadReq     struct{ Handle uint16 }
	ReadBlobReq struct{ Handle, Offset uint16 }
)

func (p *ReadReq) Op() Opcode { return OpReadReq }
func (p *ReadReq) Append(b []byte) []byte {
	return binary.LittleEndian.AppendUint16(append(b, byte(OpReadReq)), p.Handle)
}
func (p *ReadBlobReq) Op() Opcode { return OpReadBlobReq }
func (p *ReadBlobReq) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(append(b, byte(OpReadBlobReq)), p.Handle)
	return binary.LittleEndian.AppendUint16(b, p.Offset)
}

// ValuePDU is a PDU that is an opcode followed by a value: Read Response,
// Read Blob Response.
type ValuePDU struct {
	Code  Opcode
	Value []byte
}

func (p *ValuePDU) Op() Opcode             { return p.Code }
func (p *ValuePDU) Append(b []byte) []byte { return append(append(b, byte(p.Code)), p.Value...) }

// HandleValuePDU is an opcode, a handle and a value: Write Request, Write
// Command, Handle Value Notification and Indication.
type HandleValuePDU struct {
	Code   Opcode
	Handle uint16
	Value  []byte
}

func (p *HandleValuePDU) Op() Opcode { return p.Code }
func (p *HandleValuePDU) Append(b []byte) []byte {
	return append(binary.LittleEndian.AppendUint16(append(b, byte(p.Code)), p.Handle), p.Value...)
}

// PrepareWrite is a Prepare Write Request or its response, which echoes
// the request: part of a long value (longer than MTU-3 bytes), queued by
// the server at Offset until an Execute Write Request.
type PrepareWrite struct {
	Code           Opcode // OpPrepareWriteReq or OpPrepareWriteRsp
	Handle, Offset uint16
	Value          []byte
}

func (p *PrepareWrite) Op() Opcode { return p.Code }
func (p *PrepareWrite) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(append(b, byte(p.Code)), p.Handle)
	return append(binary.LittleEndian.AppendUint16(b, p.Offset), p.Value...)
}

// Execute Write Request flags.
const (
	ExecuteCancel = 0x00 // discard the prepared values
	ExecuteWrite  = 0x01 // write them all
)

// ExecuteWriteReq writes (or cancels) the values queued by Prepare Write
// Requests; the answer is an Empty Execute Write Response.
type ExecuteWriteReq struct{ Flags uint8 }

func (p *ExecuteWriteReq) Op() Opcode { return OpExecuteWriteReq }
func (p *ExecuteWriteReq) Append(b []byte) []byte {
	return append(b, byte(OpExecuteWriteReq), p.Flags)
}

// Empty is a PDU without parameters: Write Response, Execute Write
// Response, Handle Value Confirmation.
type Empty struct{ Code Opcode }

func (p *Empty) Op() Opcode             { return p.Code }
func (p *Empty) Append(b []byte) []byte { return append(b, byte(p.Code)) }

// Unknown is a PDU this package does not interpret; Params is what
// follows the opcode.
type Unknown struct {
	Code   Opcode
	Params []byte
}

func (p *Unknown) Op() Opcode             { return p.Code }
func (p *Unknown) Append(b []byte) []byte { return append(append(b, byte(p.Code)), p.Params...) }
