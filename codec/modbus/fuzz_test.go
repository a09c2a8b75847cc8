package modbus

import (
	"bytes"
	"testing"

	"github.com/tbgw/tbgw/codec/binary"
)

func FuzzFrames(f *testing.F) {
	f.Add([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD})
	f.Add([]byte(":010300000001FB\r\n"))
	f.Add([]byte{0x12, 0x34, 0, 0, 0, 6, 7, 3, 0, 1, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		if unit, pdu, err := ParseRTU(b); err == nil {
			if got := AppendRTU(nil, unit, pdu); !bytes.Equal(got, b) {
				t.Fatalf("RTU re-encode % X != % X", got, b)
			}
		}
		_, _ = RTUResponseLen(b)
		_, _ = RTURequestLen(b)
		if unit, pdu, err := ParseASCII(b); err == nil {
			u2, p2, err := ParseASCII(AppendASCII(nil, unit, pdu))
			if err != nil || u2 != unit || !bytes.Equal(p2, pdu) {
				t.Fatalf("ASCII round trip: %v", err)
			}
		}
		if tid, unit, pdu, err := ParseMBAP(b); err == nil {
			if got := AppendMBAP(nil, tid, unit, pdu); !bytes.Equal(got, b) {
				t.Fatalf("MBAP re-encode % X != % X", got, b)
			}
		}
		_, _ = MBAPLen(b)
		_, _ = ParseDeviceID(b)
	})
}

func FuzzResponse(f *testing.F) {
	f.Add(byte(3), uint16(0), uint16(2), []byte{3, 4, 0, 1, 0, 2})
	f.Add(byte(1), uint16(0), uint16(10), []byte{1, 2, 0x8D, 0x01})
	f.Add(byte(6), uint16(1), uint16(3), []byte{6, 0, 1, 0, 3})
	f.Add(byte(3), uint16(0), uint16(2), []byte{0x83, 2})
	f.Fuzz(func(t *testing.T, fc byte, addr, qty uint16, resp []byte) {
		_, _ = ResponseLen(resp)
		var req []byte
		switch fc {
		case 1, 2, 3, 4:
			var err error
			if req, err = AppendRead(nil, fc, addr, qty); err != nil {
				return
			}
		case 5:
			req = AppendWriteSingleCoil(nil, addr, qty != 0)
		case 6:
			req = AppendWriteSingleRegister(nil, addr, qty)
		default:
			return
		}
		if fc == 1 || fc == 2 {
			if bits, err := ParseBits(nil, req, resp); err == nil && len(bits) != int(qty) {
				t.Fatalf("%d bits for qty %d", len(bits), qty)
			}
		}
		if fc == 3 || fc == 4 {
			if regs, err := ParseRegisters(nil, req, resp); err == nil {
				if got := AppendRegistersResponse(nil, fc, regs); !bytes.Equal(got, resp) {
					t.Fatalf("registers re-encode % X != % X", got, resp)
				}
			}
		}
		if fc == 5 || fc == 6 {
			if err := CheckWrite(req, resp); err == nil && !bytes.Equal(req, resp) {
				t.Fatalf("accepted echo % X for % X", resp, req)
			}
		}
	})
}

func FuzzRequest(f *testing.F) {
	f.Add([]byte{3, 0, 10, 0, 3})
	f.Add([]byte{15, 0, 19, 0, 10, 2, 0xCD, 0x01})
	f.Add([]byte{16, 0, 1, 0, 2, 4, 0, 0x0A, 1, 2})
	f.Add([]byte{43, 14, 1, 0})
	f.Fuzz(func(t *testing.T, pdu []byte) {
		_, _ = RequestLen(pdu)
		r, err := ParseRequest(pdu)
		if err != nil {
			return
		}
		var re []byte
		switch r.Function {
		case 1, 2, 3, 4:
			re, err = AppendRead(nil, r.Function, r.Address, r.Quantity)
		case 5:
			re = AppendWriteSingleCoil(nil, r.Address, r.Value != 0)
		case 6:
			re = AppendWriteSingleRegister(nil, r.Address, r.Value)
		case 15:
			re, err = AppendWriteMultipleCoils(nil, r.Address, r.Bits)
			if err == nil && !bytes.Equal(re[:6], pdu[:6]) {
				t.Fatalf("coils header % X != % X", re, pdu)
			}
			return // padding bits of the last byte need not be zero
		case 16:
			re, err = AppendWriteMultipleRegisters(nil, r.Address, r.Regs)
		case 43:
			_, _ = AppendDeviceIDResponse(nil, r, [][]byte{[]byte("v"), []byte("p"), []byte("1")})
			return
		}
		if err != nil || !bytes.Equal(re, pdu) {
			t.Fatalf("re-encode % X != % X (%v)", re, pdu, err)
		}
	})
}

func FuzzDecodeTag(f *testing.F) {
	f.Add([]byte{0xA5, 0xC3, 0x12, 0x34}, uint8(3), uint8(1), int8(-1), uint8(0))
	f.Add([]byte{0xFF, 0xFE}, uint8(1), uint8(3), int8(4), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, kind, count uint8, bit int8, flags uint8) {
		k := binary.Kind(kind % 16)
		tag := Tag{Kind: k, Count: int(count), Bit: int(bit), BitAsInt: flags&4 != 0, Round: int(count % 20),
			Divider: float64(flags & 8), Variants: map[string]any{"1": "one"}}
		o := binary.Order{Byte: binary.Endian(flags & 1), Word: binary.Endian(flags >> 1 & 1)}
		regs := binary.Words(nil, b)
		tag.Function = 3
		_, _ = tag.DecodeRegisters(regs, o)
		bits := binary.UnpackBits(nil, b)
		tag.Function = 1
		_, _ = tag.DecodeBits(bits, o)
	})
}

func FuzzEncodeWrite(f *testing.F) {
	f.Add([]byte(`12.5`), uint8(9), uint8(2), uint8(16))
	f.Add([]byte(`[1,0,true]`), uint8(3), uint8(3), uint8(15))
	f.Add([]byte(`"abc"`), uint8(1), uint8(2), uint8(6))
	f.Fuzz(func(t *testing.T, raw []byte, kind, count, fc uint8) {
		v, err := ParseValue(raw)
		if err != nil {
			return
		}
		tag := Tag{Kind: binary.Kind(kind % 16), Count: int(count), Function: fc % 17}
		w, err := tag.EncodeWrite(v, binary.Order{Byte: binary.Endian(kind >> 4 & 1), Word: binary.Endian(kind >> 5 & 1)})
		if err != nil {
			return
		}
		if _, err := w.AppendPDU(nil); err != nil && len(w.Regs) <= MaxWriteRegisters && len(w.Bits) <= MaxWriteBits && len(w.Regs)+len(w.Bits) > 0 {
			t.Fatalf("%v: %v", w, err)
		}
	})
}
