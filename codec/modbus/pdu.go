package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"

	cbin "github.com/tbgw/tbgw/codec/binary"
)

// Function codes.
const (
	ReadCoils              byte = 1
	ReadDiscreteInputs     byte = 2
	ReadHoldingRegisters   byte = 3
	ReadInputRegisters     byte = 4
	WriteSingleCoil        byte = 5
	WriteSingleRegister    byte = 6
	WriteMultipleCoils     byte = 15
	WriteMultipleRegisters byte = 16
	EncapsulatedInterface  byte = 43 // with MEI type 14: read device identification
)

// Protocol limits on quantities per request.
const (
	MaxReadBits       = 2000
	MaxReadRegisters  = 125
	MaxWriteBits      = 1968
	MaxWriteRegisters = 123
	MaxPDU            = 253 // bytes, function code included
)

// Exception codes.
const (
	IllegalFunction     byte = 1
	IllegalDataAddress  byte = 2
	IllegalDataValue    byte = 3
	ServerDeviceFailure byte = 4
)

// Exception is an exception response from a server.
type Exception struct {
	Function byte // the request's function code
	Code     byte
}

func (e *Exception) Error() string {
	name := ""
	switch e.Code {
	case IllegalFunction:
		name = " (illegal function)"
	case IllegalDataAddress:
		name = " (illegal data address)"
	case IllegalDataValue:
		name = " (illegal data value)"
	case ServerDeviceFailure:
		name = " (server device failure)"
	case 5:
		name = " (acknowledge)"
	case 6:
		name = " (server device busy)"
	case 10:
		name = " (gateway path unavailable)"
	case 11:
		name = " (gateway target device failed to respond)"
	}
	return fmt.Sprintf("modbus exception %d%s for function %d", e.Code, name, e.Function)
}

// ErrMalformed is wrapped by every error about a response or request that
// does not follow the protocol.
var ErrMalformed = errors.New("modbus: malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// IsRead reports whether fc is one of the read functions 1-4.
func IsRead(fc byte) bool { return fc >= ReadCoils && fc <= ReadInputRegisters }

// IsBitFunction reports whether fc reads or writes bits (1, 2, 5, 15).
func IsBitFunction(fc byte) bool {
	return fc == ReadCoils || fc == ReadDiscreteInputs || fc == WriteSingleCoil || fc == WriteMultipleCoils
}

// MaxRead is the largest quantity a read function may ask for.
func MaxRead(fc byte) int {
	if fc == ReadCoils || fc == ReadDiscreteInputs {
		return MaxReadBits
	}
	return MaxReadRegisters
}

// AppendRead appends a read request (functions 1-4) to dst.
func AppendRead(dst []byte, fc byte, addr, qty uint16) ([]byte, error) {
	if !IsRead(fc) {
		return dst, fmt.Errorf("modbus: function %d is not a read", fc)
	}
	if qty == 0 || int(qty) > MaxRead(fc) {
		return dst, fmt.Errorf("modbus: function %d cannot read %d objects (1..%d)", fc, qty, MaxRead(fc))
	}
	if int(addr)+int(qty) > 0x10000 {
		return dst, fmt.Errorf("modbus: address %d + %d objects exceeds 65535", addr, qty)
	}
	return append(dst, fc, byte(addr>>8), byte(addr), byte(qty>>8), byte(qty)), nil
}

// AppendWriteSingleCoil appends a function 5 request.
func AppendWriteSingleCoil(dst []byte, addr uint16, on bool) []byte {
	v := byte(0)
	if on {
		v = 0xFF
	}
	return append(dst, WriteSingleCoil, byte(addr>>8), byte(addr), v, 0)
}

// AppendWriteSingleRegister appends a function 6 request.
func AppendWriteSingleRegister(dst []byte, addr, value uint16) []byte {
	return append(dst, WriteSingleRegister, byte(addr>>8), byte(addr), byte(value>>8), byte(value))
}

// AppendWriteMultipleCoils appends a function 15 request.
func AppendWriteMultipleCoils(dst []byte, addr uint16, bits []bool) ([]byte, error) {
	n := len(bits)
	if n == 0 || n > MaxWriteBits || int(addr)+n > 0x10000 {
		return dst, fmt.Errorf("modbus: cannot write %d coils at %d (1..%d)", n, addr, MaxWriteBits)
	}
	dst = append(dst, WriteMultipleCoils, byte(addr>>8), byte(addr), byte(n>>8), byte(n), byte((n+7)/8))
	return cbin.PackBits(dst, bits), nil
}

// AppendWriteMultipleRegisters appends a function 16 request.
func AppendWriteMultipleRegisters(dst []byte, addr uint16, regs []uint16) ([]byte, error) {
	n := len(regs)
	if n == 0 || n > MaxWriteRegisters || int(addr)+n > 0x10000 {
		return dst, fmt.Errorf("modbus: cannot write %d registers at %d (1..%d)", n, addr, MaxWriteRegisters)
	}
	dst = append(dst, WriteMultipleRegisters, byte(addr>>8), byte(addr), byte(n>>8), byte(n), byte(2*n))
	for _, r := range regs {
		dst = append(dst, byte(r>>8), byte(r))
	}
	return dst, nil
}

// checkFunction checks that resp answers req and turns an exception
// response into an *Exception.
func checkFunction(req, resp []byte) error {
	if len(req) == 0 {
		return errors.New("modbus: empty request")
	}
	if len(resp) == 0 {
		return malformed("empty response")
	}
	fc := req[0]
	switch resp[0] {
	case fc:
		return nil
	case fc | 0x80:
		if len(resp) != 2 {
			return malformed("exception response of %d bytes", len(resp))
		}
		return &Exception{Function: fc, Code: resp[1]}
	}
	return malformed("response function %d to request function %d", resp[0], fc)
}

// ParseBits validates a response to a function 1 or 2 request and appends
// the requested number of bits to dst.
func ParseBits(dst []bool, req, resp []byte) ([]bool, error) {
	if err := checkFunction(req, resp); err != nil {
		return dst, err
	}
	if len(req) != 5 || (req[0] != ReadCoils && req[0] != ReadDiscreteInputs) {
		return dst, errors.New("modbus: ParseBits needs a function 1 or 2 request")
	}
	qty := int(binary.BigEndian.Uint16(req[3:]))
	want := (qty + 7) / 8
	if len(resp) < 2 || int(resp[1]) != want || len(resp) != 2+want {
		return dst, malformed("function %d response has %d data bytes, want %d", req[0], len(resp)-2, want)
	}
	for i := 0; i < qty; i++ {
		dst = append(dst, resp[2+i/8]&(1<<(i%8)) != 0)
	}
	return dst, nil
}

// ParseRegisters validates a response to a function 3 or 4 request and
// appends the registers to dst.
func ParseRegisters(dst []uint16, req, resp []byte) ([]uint16, error) {
	if err := checkFunction(req, resp); err != nil {
		return dst, err
	}
	if len(req) != 5 || (req[0] != ReadHoldingRegisters && req[0] != ReadInputRegisters) {
		return dst, errors.New("modbus: ParseRegisters needs a function 3 or 4 request")
	}
	qty := int(binary.BigEndian.Uint16(req[3:]))
	if len(resp) < 2 || int(resp[1]) != 2*qty || len(resp) != 2+2*qty {
		return dst, malformed("function %d response has %d data bytes, want %d", req[0], len(resp)-2, 2*qty)
	}
	for i := 0; i < qty; i++ {
		dst = append(dst, binary.BigEndian.Uint16(resp[2+2*i:]))
	}
	return dst, nil
}

// CheckWrite validates a response to a write request (5, 6, 15, 16): single
// writes echo the request, multiple writes echo address and quantity.
func CheckWrite(req, resp []byte) error {
	if err := checkFunction(req, resp); err != nil {
		return err
	}
	switch req[0] {
	case WriteSingleCoil, WriteSingleRegister:
		if len(req) != 5 || len(resp) != 5 || string(req) != string(resp) {
			return malformed("function %d response does not echo the request", req[0])
		}
	case WriteMultipleCoils, WriteMultipleRegisters:
		if len(req) < 5 || len(resp) != 5 || string(req[1:5]) != string(resp[1:5]) {
			return malformed("function %d response does not echo address and quantity", req[0])
		}
	default:
		return fmt.Errorf("modbus: function %d is not a write", req[0])
	}
	return nil
}

// ResponseLen returns the length of the response PDU that begins with b
// (function code first), or 0 if more bytes are needed to tell. It serves
// framings without a length field (RTU).
func ResponseLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	fc := b[0]
	switch {
	case fc&0x80 != 0:
		return 2, nil
	case fc >= ReadCoils && fc <= ReadInputRegisters:
		return 2 + int(b[1]), nil
	case fc == WriteSingleCoil, fc == WriteSingleRegister, fc == WriteMultipleCoils, fc == WriteMultipleRegisters:
		return 5, nil
	case fc == EncapsulatedInterface:
		return deviceIDResponseLen(b)
	}
	return 0, malformed("unknown function %d in response", fc)
}

// RequestLen returns the length of the request PDU that begins with b, or
// 0 if more bytes are needed (servers reading RTU).
func RequestLen(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, nil
	}
	switch fc := b[0]; fc {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters, WriteSingleCoil, WriteSingleRegister:
		return 5, nil
	case WriteMultipleCoils, WriteMultipleRegisters:
		if len(b) < 6 {
			return 0, nil
		}
		return 6 + int(b[5]), nil
	case EncapsulatedInterface:
		return 4, nil
	default:
		return 0, malformed("unknown function %d in request", fc)
	}
}
