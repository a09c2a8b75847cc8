package modbus

import (
	"encoding/binary"

	cbin "github.com/tbgw/tbgw/codec/binary"
)

// Request is a request PDU as a server sees it.
type Request struct {
	Function byte
	Address  uint16
	Quantity uint16   // functions 1-4, 15, 16
	Value    uint16   // function 5 (0xFF00 or 0), function 6
	Bits     []bool   // function 15
	Regs     []uint16 // function 16
	// Function 43 / MEI 14 (read device identification).
	ReadDevID byte // 1 basic, 2 regular, 3 extended, 4 one object
	ObjectID  byte
}

// ParseRequest decodes a request PDU. A request the server must refuse
// returns an *Exception to send back (illegal function or data value).
func ParseRequest(pdu []byte) (Request, error) {
	if len(pdu) == 0 {
		return Request{}, malformed("empty request")
	}
	r := Request{Function: pdu[0]}
	bad := &Exception{Function: r.Function, Code: IllegalDataValue}
	switch r.Function {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters:
		if len(pdu) != 5 {
			return r, bad
		}
		r.Address = binary.BigEndian.Uint16(pdu[1:])
		r.Quantity = binary.BigEndian.Uint16(pdu[3:])
		if r.Quantity == 0 || int(r.Quantity) > MaxRead(r.Function) {
			return r, bad
		}
	case WriteSingleCoil:
		if len(pdu) != 5 {
			return r, bad
		}
		r.Address = binary.BigEndian.Uint16(pdu[1:])
		r.Value = binary.BigEndian.Uint16(pdu[3:])
		if r.Value != 0xFF00 && r.Value != 0 {
			return r, bad
		}
		r.Quantity = 1
	case WriteSingleRegister:
		if len(pdu) != 5 {
			return r, bad
		}
		r.Address = binary.BigEndian.Uint16(pdu[1:])
		r.Value = binary.BigEndian.Uint16(pdu[3:])
		r.Quantity = 1
	case WriteMultipleCoils:
		if len(pdu) < 6 {
			return r, bad
		}
		r.Address = binary.BigEndian.Uint16(pdu[1:])
		r.Quantity = binary.BigEndian.Uint16(pdu[3:])
		n := int(r.Quantity)
		if n == 0 || n > MaxWriteBits || int(pdu[5]) != (n+7)/8 || len(pdu) != 6+int(pdu[5]) {
			return r, bad
		}
		r.Bits = make([]bool, n)
		for i := range r.Bits {
			r.Bits[i] = pdu[6+i/8]&(1<<(i%8)) != 0
		}
	case WriteMultipleRegisters:
		if len(pdu) < 6 {
			return r, bad
		}
		r.Address = binary.BigEndian.Uint16(pdu[1:])
		r.Quantity = binary.BigEndian.Uint16(pdu[3:])
		n := int(r.Quantity)
		if n == 0 || n > MaxWriteRegisters || int(pdu[5]) != 2*n || len(pdu) != 6+2*n {
			return r, bad
		}
		r.Regs = make([]uint16, n)
		for i := range r.Regs {
			r.Regs[i] = binary.BigEndian.Uint16(pdu[6+2*i:])
		}
	case EncapsulatedInterface:
		if len(pdu) != 4 || pdu[1] != 14 || pdu[2] < 1 || pdu[2] > 4 {
			return r, bad
		}
		r.ReadDevID, r.ObjectID = pdu[2], pdu[3]
	default:
		return r, &Exception{Function: r.Function, Code: IllegalFunction}
	}
	if r.Function != EncapsulatedInterface && int(r.Address)+int(r.Quantity) > 0x10000 {
		return r, &Exception{Function: r.Function, Code: IllegalDataAddress}
	}
	return r, nil
}

// AppendException appends an exception response PDU.
func AppendException(dst []byte, fc, code byte) []byte {
	return append(dst, fc|0x80, code)
}

// AppendBitsResponse appends a function 1 or 2 response.
func AppendBitsResponse(dst []byte, fc byte, bits []bool) []byte {
	dst = append(dst, fc, byte((len(bits)+7)/8))
	return cbin.PackBits(dst, bits)
}

// AppendRegistersResponse appends a function 3 or 4 response.
func AppendRegistersResponse(dst []byte, fc byte, regs []uint16) []byte {
	dst = append(dst, fc, byte(2*len(regs)))
	for _, r := range regs {
		dst = append(dst, byte(r>>8), byte(r))
	}
	return dst
}

// AppendWriteResponse appends the response to a successful write request
// r (functions 5, 6, 15, 16).
func AppendWriteResponse(dst []byte, r Request) []byte {
	dst = append(dst, r.Function, byte(r.Address>>8), byte(r.Address))
	switch r.Function {
	case WriteSingleCoil, WriteSingleRegister:
		return append(dst, byte(r.Value>>8), byte(r.Value))
	}
	return append(dst, byte(r.Quantity>>8), byte(r.Quantity))
}

// AppendDeviceIDResponse answers a read device identification request
// (function 43, MEI 14). objects holds the identification objects by id
// (0 VendorName, 1 ProductCode, 2 MajorMinorRevision, 3 VendorUrl,
// 4 ProductName, 5 ModelName, 6 UserApplicationName); empty ones are left
// out. It returns an *Exception for an individual request of a missing
// object.
func AppendDeviceIDResponse(dst []byte, r Request, objects [][]byte) ([]byte, error) {
	has := func(id int) bool { return id < len(objects) && len(objects[id]) > 0 }
	var lo, hi int
	switch r.ReadDevID {
	case 1:
		lo, hi = 0, 2
	case 2:
		lo, hi = 0, 6
	case 3:
		lo, hi = 0, len(objects)-1
	case 4:
		if !has(int(r.ObjectID)) {
			return dst, &Exception{Function: EncapsulatedInterface, Code: IllegalDataAddress}
		}
		lo, hi = int(r.ObjectID), int(r.ObjectID)
	default:
		return dst, &Exception{Function: EncapsulatedInterface, Code: IllegalDataValue}
	}
	if r.ReadDevID != 4 && int(r.ObjectID) > lo && int(r.ObjectID) <= hi {
		lo = int(r.ObjectID)
	}
	start := len(dst)
	dst = append(dst, EncapsulatedInterface, 14, r.ReadDevID, 0x82, 0, 0, 0)
	count, size := 0, 7
	for id := lo; id <= hi && id < len(objects); id++ {
		if !has(id) {
			continue
		}
		v := objects[id]
		if len(v) > 245 {
			v = v[:245]
		}
		if size+2+len(v) > MaxPDU {
			dst[start+4], dst[start+5] = 0xFF, byte(id) // more follows
			break
		}
		dst = append(dst, byte(id), byte(len(v)))
		dst = append(dst, v...)
		count++
		size += 2 + len(v)
	}
	dst[start+6] = byte(count)
	return dst, nil
}

// deviceIDResponseLen finds the length of a function 43/14 response.
func deviceIDResponseLen(b []byte) (int, error) {
	if len(b) < 7 {
		return 0, nil
	}
	if b[1] != 14 {
		return 0, malformed("MEI type %d", b[1])
	}
	n, off := int(b[6]), 7
	for range n {
		if len(b) < off+2 {
			return 0, nil
		}
		off += 2 + int(b[off+1])
		if off > MaxPDU {
			return 0, malformed("device identification longer than a PDU")
		}
	}
	return off, nil
}

// ParseDeviceID decodes a function 43/14 response into objects by id.
func ParseDeviceID(resp []byte) (map[byte]string, error) {
	if len(resp) == 2 && resp[0] == EncapsulatedInterface|0x80 {
		return nil, &Exception{Function: EncapsulatedInterface, Code: resp[1]}
	}
	n, err := deviceIDResponseLen(resp)
	if err != nil {
		return nil, err
	}
	if n == 0 || n != len(resp) || resp[0] != EncapsulatedInterface {
		return nil, malformed("device identification response")
	}
	out := map[byte]string{}
	for off := 7; off < len(resp); off += 2 + int(resp[off+1]) {
		out[resp[off]] = string(resp[off+2 : off+2+int(resp[off+1])])
	}
	return out, nil
}
