package bacnet

import "testing"

func rpmACK(objects int) []byte {
	var res []ReadAccessResult
	for i := range objects {
		res = append(res, ReadAccessResult{Object: ObjectID{AnalogInput, uint32(i)}, Results: []ReadResult{
			{Property: PropPresentValue, Index: NoIndex, Value: []Value{float32(i) + 0.25}},
			{Property: PropObjectName, Index: NoIndex, Value: []Value{"Zone temperature"}},
			{Property: PropStatusFlags, Index: NoIndex, Value: []Value{NewBitString(false, false, false, false)}}}})
	}
	b, err := AppendReadPropertyMultipleACK(nil, res)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodeRPMACK decodes a ReadPropertyMultiple-ACK of 30 objects
// with 3 properties each (about one 1476-octet APDU).
func BenchmarkDecodeRPMACK(b *testing.B) {
	data := rpmACK(30)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeReadPropertyMultipleACK(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/90, "ns/property")
}

// BenchmarkMessage decodes a whole datagram down to the APDU header.
func BenchmarkMessage(b *testing.B) {
	apdu, _ := AppendAPDU(nil, APDU{Type: PDUComplexACK, InvokeID: 1, Service: ServiceReadPropertyMultiple, ServiceData: rpmACK(30)})
	d, err := AppendMessage(nil, BVLCOriginalUnicastNPDU, NPDU{HasSource: true, Source: Address{Net: 5, MAC: []byte{7}}}, APDU{Type: PDUComplexACK, InvokeID: 1, Service: ServiceReadPropertyMultiple, ServiceData: apdu[3:]})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessage(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendRPM encodes a ReadPropertyMultiple request of 30 objects.
func BenchmarkAppendRPM(b *testing.B) {
	var specs []ReadAccessSpec
	for i := range 30 {
		specs = append(specs, ReadAccessSpec{Object: ObjectID{AnalogInput, uint32(i)}, Properties: []PropertyRef{{PropPresentValue, NoIndex}, {PropStatusFlags, NoIndex}}})
	}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReadPropertyMultiple(buf[:0], specs)
	}
}
