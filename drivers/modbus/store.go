package modbus

import (
	"sync"

	mb "github.com/tbgw/tbgw/codec/modbus"
)

// Data block tables of the slave section.
const (
	tableCoils = iota
	tableDiscrete
	tableHolding
	tableInput
)

// store is the slave section's data: sparse tables holding only the
// configured objects (like pymodbus' ModbusSparseDataBlock, so a request
// touching any other address gets exception 2), and the identification
// objects.
type store struct {
	mu       sync.Mutex
	bits     [2]map[uint16]bool   // coils, discrete inputs
	regs     [2]map[uint16]uint16 // holding, input registers
	identity [][]byte
	onWrite  func() // called (outside the lock) after a write
}

func newStore() *store {
	return &store{
		bits: [2]map[uint16]bool{{}, {}},
		regs: [2]map[uint16]uint16{{}, {}},
	}
}

// setBits and setRegs initialise objects.
func (s *store) setBits(table int, addr uint16, v []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.bits[table]
	for i, b := range v {
		m[addr+uint16(i)] = b
	}
}

func (s *store) setRegs(table int, addr uint16, v []uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.regs[table-tableHolding]
	for i, r := range v {
		m[addr+uint16(i)] = r
	}
}

// handle serves one request PDU and appends the response PDU to dst.
func (s *store) handle(dst, pdu []byte) []byte {
	r, err := mb.ParseRequest(pdu)
	if err != nil {
		if ex, ok := err.(*mb.Exception); ok {
			return mb.AppendException(dst, ex.Function, ex.Code)
		}
		if len(pdu) > 0 {
			return mb.AppendException(dst, pdu[0], mb.IllegalDataValue)
		}
		return dst
	}
	wrote := false
	s.mu.Lock()
	dst, wrote = s.serve(dst, r)
	s.mu.Unlock()
	if wrote && s.onWrite != nil {
		s.onWrite()
	}
	return dst
}

func (s *store) serve(dst []byte, r mb.Request) ([]byte, bool) {
	badAddr := func() ([]byte, bool) { return mb.AppendException(dst, r.Function, mb.IllegalDataAddress), false }
	hasBits := func(m map[uint16]bool) bool {
		for i := range int(r.Quantity) {
			if _, ok := m[r.Address+uint16(i)]; !ok {
				return false
			}
		}
		return true
	}
	hasRegs := func(m map[uint16]uint16) bool {
		for i := range int(r.Quantity) {
			if _, ok := m[r.Address+uint16(i)]; !ok {
				return false
			}
		}
		return true
	}
	switch r.Function {
	case mb.ReadCoils, mb.ReadDiscreteInputs:
		m := s.bits[r.Function-mb.ReadCoils]
		if !hasBits(m) {
			return badAddr()
		}
		out := make([]bool, r.Quantity)
		for i := range out {
			out[i] = m[r.Address+uint16(i)]
		}
		return mb.AppendBitsResponse(dst, r.Function, out), false
	case mb.ReadHoldingRegisters, mb.ReadInputRegisters:
		m := s.regs[r.Function-mb.ReadHoldingRegisters]
		if !hasRegs(m) {
			return badAddr()
		}
		out := make([]uint16, r.Quantity)
		for i := range out {
			out[i] = m[r.Address+uint16(i)]
		}
		return mb.AppendRegistersResponse(dst, r.Function, out), false
	case mb.WriteSingleCoil, mb.WriteMultipleCoils:
		m := s.bits[tableCoils]
		if !hasBits(m) {
			return badAddr()
		}
		if r.Function == mb.WriteSingleCoil {
			m[r.Address] = r.Value != 0
		}
		for i, b := range r.Bits {
			m[r.Address+uint16(i)] = b
		}
		return mb.AppendWriteResponse(dst, r), true
	case mb.WriteSingleRegister, mb.WriteMultipleRegisters:
		m := s.regs[0]
		if !hasRegs(m) {
			return badAddr()
		}
		if r.Function == mb.WriteSingleRegister {
			m[r.Address] = r.Value
		}
		for i, v := range r.Regs {
			m[r.Address+uint16(i)] = v
		}
		return mb.AppendWriteResponse(dst, r), true
	case mb.EncapsulatedInterface:
		out, err := mb.AppendDeviceIDResponse(dst, r, s.identity)
		if ex, ok := err.(*mb.Exception); ok {
			return mb.AppendException(dst, ex.Function, ex.Code), false
		}
		return out, false
	}
	return mb.AppendException(dst, r.Function, mb.IllegalFunction), false
}
