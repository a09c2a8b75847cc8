package socketcan

import (
	"bytes"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		f    Frame
		want string
	}{
		{Frame{ID: 0x123, Len: 2, Data: [64]byte{1, 2}}, "123#0102"},
		{Frame{ID: 0x1abcdef0, Extended: true, Len: 1, Data: [64]byte{0xff}}, "1ABCDEF0#FF"},
		{Frame{ID: 0x7ff, RTR: true}, "7FF#R"},
		{Frame{ID: 4, Extended: true, FD: true, BRS: true, Len: 12}, "00000004##5000000000000000000000000"},
	} {
		b, err := tc.f.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var g Frame
		if err := g.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if g != tc.f || g.String() != tc.want {
			t.Errorf("%s: round trip gave %s (%+v)", tc.want, g.String(), g)
		}
	}
}

func TestFrameValidate(t *testing.T) {
	for _, tc := range []struct {
		id      uint32
		ext, fd bool
		n       int
		want    string
	}{
		{0x800, false, false, 1, "exceeds 11 bits"},
		{0x20000000, true, false, 1, "exceeds 29 bits"},
		{1, false, false, 9, "at most 8"},
		{1, false, true, 65, "at most 64"},
	} {
		_, err := NewFrame(tc.id, tc.ext, tc.fd, false, make([]byte, tc.n))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%#x/%d: %v, want %q", tc.id, tc.n, err, tc.want)
		}
	}
}

// FuzzUnmarshal: any bytes give a frame or an error; a frame survives a
// round trip.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range [][]byte{make([]byte, 16), make([]byte, 72), {1, 2, 3}, append([]byte{0x23, 1, 0, 0x80, 9}, make([]byte, 11)...)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		if fr.UnmarshalBinary(b) != nil {
			return
		}
		_ = fr.String()
		_ = fr.ErrorEvents()
		if fr.Err {
			return
		}
		out, err := fr.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%x: decoded %+v does not encode: %v", b, fr, err)
		}
		var again Frame
		if err := again.UnmarshalBinary(out); err != nil || again != fr {
			t.Fatalf("%x: round trip %+v != %+v (%v)", b, again, fr, err)
		}
		if len(out) != len(b) || !bytes.Equal(out[8:8+fr.Len], b[8:8+fr.Len]) {
			t.Fatalf("%x: re-encoded as %x", b, out)
		}
	})
}
