package modbus

import (
	"testing"

	mb "github.com/tbgw/tbgw/codec/modbus"
)

// FuzzStoreHandle serves arbitrary request PDUs from the slave section's
// store: every answer must be a well-formed response PDU.
func FuzzStoreHandle(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 4})
	f.Add([]byte{16, 0, 1, 0, 2, 4, 0, 0x0A, 1, 2})
	f.Add([]byte{15, 0, 0, 0, 3, 1, 5})
	f.Add([]byte{43, 14, 1, 0})
	f.Fuzz(func(t *testing.T, pdu []byte) {
		st := newStore()
		st.setRegs(tableHolding, 0, []uint16{1, 2, 3, 4})
		st.setRegs(tableInput, 0, []uint16{5})
		st.setBits(tableCoils, 0, []bool{true, false, true})
		st.setBits(tableDiscrete, 0, []bool{true})
		st.identity = [][]byte{[]byte("v"), []byte("p"), []byte("r")}
		resp := st.handle(nil, pdu)
		if len(pdu) == 0 {
			return
		}
		n, err := mb.ResponseLen(resp)
		if err != nil || n != len(resp) || len(resp) > mb.MaxPDU {
			t.Fatalf("request % X: response % X (len %d, %v)", pdu, resp, n, err)
		}
		if resp[0]&0x7F != pdu[0]&0x7F {
			t.Fatalf("request % X: response function %d", pdu, resp[0])
		}
	})
}
