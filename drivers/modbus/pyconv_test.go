package modbus

import (
	"encoding/json"
	"fmt"
	"testing"

	mb "github.com/tbgw/tbgw/codec/modbus"
)

// What a Python downlink converter may return becomes the write request
// upstream's connector would send.
func TestPyWriteRequest(t *testing.T) {
	for _, c := range []struct {
		fc    byte
		count int
		res   string
		want  string
	}{
		{6, 1, `[42]`, "[42] []"},
		{6, 1, `[1, 2]`, "[1] []"}, // upstream takes the first for 5 and 6
		{16, 2, `[1, 65535]`, "[1 65535] []"},
		{16, 2, `{"bytes": "AAEAAg=="}`, "[1 2] []"}, // big-endian pairs
		{5, 1, `{"bytes": "AQ=="}`, "[] [true]"},     // int(1).to_bytes(1)
		{5, 1, `[false]`, "[] [false]"},
		{15, 3, `[1, 0, 1, 1]`, "[] [true false true]"},
		{15, 3, `{"bytes": "BQ=="}`, "[] [true false true]"},
		{6, 1, `7`, "[7] []"},
	} {
		w, err := pyWriteRequest(&mb.Tag{Function: c.fc, Count: c.count}, json.RawMessage(c.res))
		got := fmt.Sprint(w.Regs, w.Bits)
		if got == "[] []" || err != nil || fmt.Sprintf("%v %v", nz(w.Regs), nzb(w.Bits)) != c.want {
			t.Errorf("fc %d %s: got %v %v, %v; want %s", c.fc, c.res, w.Regs, w.Bits, err, c.want)
		}
	}
	for _, bad := range []string{`[]`, `["x"]`, `[70000]`, `null`} {
		if _, err := pyWriteRequest(&mb.Tag{Function: 16, Count: 1}, json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func nz(r []uint16) []uint16 {
	if r == nil {
		return []uint16{}
	}
	return r
}

func nzb(b []bool) []bool {
	if b == nil {
		return []bool{}
	}
	return b
}
