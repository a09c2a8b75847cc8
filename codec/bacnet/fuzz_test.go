package bacnet

import (
	"bytes"
	"reflect"
	"testing"
)

func addCaptures(f *testing.F) {
	for _, c := range loadCaptures(f) {
		f.Add(c.b)
	}
}

// FuzzMessage: any datagram decodes or fails cleanly; whatever decodes
// fully re-encodes to the same octets.
func FuzzMessage(f *testing.F) {
	addCaptures(f)
	f.Add(h("8104000e c0a8010abac0 01001008"))
	f.Add(h("810a000f 0124000501 05ff 1008"))
	f.Add(h("810a000b 0180 01 0005 0006"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := reencode(b)
		if err != nil {
			return
		}
		m, _ := DecodeMessage(b)
		// Encodings with a choice (non-minimal integers, hop count 0,
		// long forms for short lengths) are accepted but not reproduced:
		// then a second round trip must be stable.
		if !bytes.Equal(got, b) {
			again, _, err := reencode(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("unstable: % X -> % X -> % X (%v) %+v", b, got, again, err, m)
			}
		}
	})
}

// FuzzValues: application and context values.
func FuzzValues(f *testing.F) {
	for _, s := range []string{"00", "11", "21ff", "320080", "4441ac0000", "5508c004000000000000",
		"63010203", "7504 00 41c3a4", "820440", "913e", "a47c030f05", "b40d0500ff", "c400000001",
		"fa14 0102", "0e 443f800000 fe1e 00 ff1e 0f", "75fe0003 00 4142"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := DecodeValue(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("used %d of %d", n, len(b))
		}
		enc, err := AppendValue(nil, v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		back, m, err := DecodeValue(enc)
		if err != nil || m != len(enc) {
			t.Fatalf("re-decode %#v: %v", v, err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(v)) {
			t.Fatalf("%#v -> %#v", v, back)
		}
	})
}

// normalize maps values that legitimately differ after a round trip
// (empty vs nil slices, NaN) to comparable forms.
func normalize(v Value) Value {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case float32:
		if x != x {
			return "NaN32"
		}
	case float64:
		if x != x {
			return "NaN64"
		}
	case BitString:
		return x.String()
	case Context:
		return [2]any{x.Tag, string(x.Data)}
	case Constructed:
		out := []any{x.Tag}
		for _, e := range x.Values {
			out = append(out, normalize(e))
		}
		return out
	}
	return v
}

// FuzzSegments: reassembly of arbitrary segment sequences never panics
// and never exceeds its bound.
func FuzzSegments(f *testing.F) {
	f.Add(h("3c0500040e0102"), h("3c0501040e03"), h("380502040e04"))
	f.Add(h("3c0500020e01"), h("380502020e"), h("3c0501020e01"))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		first, err := DecodeAPDU(a)
		if err != nil {
			return
		}
		r, _, err := NewReassembly(first, 4, 64)
		if err != nil {
			return
		}
		for _, s := range [][]byte{b, c, b} {
			seg, err := DecodeAPDU(s)
			if err != nil {
				continue
			}
			ack, done, err := r.Add(seg)
			if err != nil {
				return
			}
			if ack != nil {
				if _, err := AppendAPDU(nil, *ack); err != nil {
					t.Fatal(err)
				}
			}
			if done && len(r.Message().ServiceData) > 64 {
				t.Fatal("bound exceeded")
			}
		}
	})
}
