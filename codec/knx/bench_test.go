package knx

import "testing"

// BenchmarkTelegram: one received tunnelling request, from datagram to a
// decoded DPT 9 value.
func BenchmarkTelegram(b *testing.B) {
	cemi := CEMI{Code: LDataInd, Ctrl1: DefaultCtrl1, Ctrl2: DefaultCtrl2, Src: 0x100a, Dst: 0x0806,
		APCI: GroupValueWrite, Data: []byte{0x0c, 0x33}}.Append(nil)
	frame := AppendTunnelling(nil, 1, 7, cemi)
	t, _ := LookupDPT("temperature")
	b.ReportAllocs()
	for b.Loop() {
		f, err := ParseFrame(frame)
		if err != nil {
			b.Fatal(err)
		}
		tun, _ := ParseTunnel(f.Body)
		c, _ := ParseCEMI(tun.CEMI)
		if _, err := t.Decode(c.Data, c.Small, c.IsSmall); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFrame: encoding a group write of a DPT 9 value into a
// tunnelling request.
func BenchmarkWriteFrame(b *testing.B) {
	t, _ := LookupDPT("temperature")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		data, _, _ := t.Encode(21.5)
		c := CEMI{Code: LDataReq, Ctrl1: DefaultCtrl1, Ctrl2: DefaultCtrl2, Dst: 0x0806, APCI: GroupValueWrite, Data: data}
		buf = AppendTunnelling(buf[:0], 1, 7, c.Append(nil))
	}
}
