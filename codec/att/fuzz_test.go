package att

import (
	"bytes"
	"testing"
)

// FuzzDecode: any input decodes or errors without panicking, and what
// decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"020502", "11060100070000180800 0b000118", "0907020002030000 2a",
		"05010400 0229", "1b03001722", "010a03000a", "0b", "09ff", "1100",
		"16 0300 0000 616263", "17 0300 1200 7a", "1801", "1800", "19", "1802", "160300"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		if got := Encode(p); !bytes.Equal(got, b) {
			t.Fatalf("% x decoded to %#v, encodes to % x", b, p, got)
		}
	})
}

// FuzzDecl: GATT declaration values never panic the parsers.
func FuzzDecl(f *testing.F) {
	f.Add(h("1a03006d667044736662756645766455aa6c22"))
	f.Add(h("020300002a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseCharDecl(b); err == nil && !bytes.Equal(d.Append(nil)[:3], b[:3]) {
			t.Fatalf("% x: %+v", b, d)
		}
		_, _ = ParseServiceDecl(b)
		if u, err := FromWire(b); err == nil && u.Len() == 0 {
			t.Fatal("zero UUID without error")
		}
	})
}
