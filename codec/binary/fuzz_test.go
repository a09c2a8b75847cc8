package binary_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/tbgw/tbgw/codec/binary"
)

// FuzzDecode decodes arbitrary bytes as every kind in every order, and
// checks that encoding the result gives the same bytes back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}, uint8(0))
	f.Add([]byte{0x7e, 0x00}, uint8(3))
	f.Add([]byte{0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, ord uint8) {
		o := binary.Order{Byte: binary.Endian(ord & 1), Word: binary.Endian(ord >> 1 & 1)}
		for k := binary.Int8; k <= binary.Float64; k++ {
			n, err := binary.Decode(k, b, o)
			if err != nil {
				if len(b) >= k.Size() {
					t.Fatalf("%v: %v", k, err)
				}
				continue
			}
			var enc []byte
			switch {
			case k.Float():
				if math.IsNaN(n.Float64()) {
					continue // NaN payloads are not preserved
				}
				enc, err = binary.AppendFloat(nil, k, n.Float64(), o)
			case k == binary.Uint64:
				enc, err = binary.AppendUint(nil, k, n.Uint64(), o)
			case k.Signed():
				enc, err = binary.AppendInt(nil, k, n.Int64(), o)
			default:
				enc, err = binary.AppendUint(nil, k, n.Uint64(), o)
			}
			if err != nil {
				t.Fatalf("%v %v: re-encode: %v", k, n, err)
			}
			if !bytes.Equal(enc, b[:k.Size()]) {
				t.Fatalf("%v %v: % X != % X", k, o, enc, b[:k.Size()])
			}
		}
	})
}
