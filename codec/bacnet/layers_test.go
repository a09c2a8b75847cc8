package bacnet

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestNPDURouting(t *testing.T) {
	// A ReadProperty to device MAC 0x05 on network 5 through a router, and
	// the answer coming back with the source network and address.
	req := NPDU{ExpectingReply: true, HasDest: true, Dest: Address{Net: 5, MAC: []byte{5}}, Payload: []byte{0xAA}}
	b, err := AppendNPDU(nil, req)
	if err != nil || !bytes.Equal(b, h("0124 0005 01 05 ff aa")) {
		t.Fatalf("% X %v", b, err)
	}
	got, err := DecodeNPDU(b)
	req.HopCount = 255
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("%+v %v", got, err)
	}
	resp := h("0108 0005 06 c0a80a0bbac0 bb")
	got, err = DecodeNPDU(resp)
	if err != nil || !got.HasSource || got.Source.Net != 5 || !bytes.Equal(got.Source.MAC, h("c0a80a0bbac0")) || !bytes.Equal(got.Payload, []byte{0xBB}) {
		t.Fatalf("%+v %v", got, err)
	}
	// Global broadcast Who-Is as a stack sends it.
	got, err = DecodeNPDU(h("0120ffff00ff 1008"))
	if err != nil || got.Dest.Net != GlobalNetwork || len(got.Dest.MAC) != 0 || got.HopCount != 255 {
		t.Fatalf("%+v %v", got, err)
	}
	// Network layer messages.
	got, err = DecodeNPDU(h("0180 00"))
	if err != nil || !got.Network || got.MessageType != NetWhoIsRouterToNetwork || len(got.Payload) != 0 {
		t.Fatalf("%+v %v", got, err)
	}
	iam := NPDU{Network: true, MessageType: NetIAmRouterToNetwork, Payload: AppendNetworkList(nil, 5, 6)}
	b, _ = AppendNPDU(nil, iam)
	if !bytes.Equal(b, h("0180 01 0005 0006")) {
		t.Fatalf("% X", b)
	}
	got, _ = DecodeNPDU(b)
	if nets, err := DecodeNetworkList(got.Payload); err != nil || !reflect.DeepEqual(nets, []uint16{5, 6}) {
		t.Fatalf("%v %v", nets, err)
	}
	prop := NPDU{Network: true, MessageType: 0x80, VendorID: 260, Payload: []byte{1}}
	b, _ = AppendNPDU(nil, prop)
	if got, err := DecodeNPDU(b); err != nil || !reflect.DeepEqual(got, prop) {
		t.Fatalf("%+v %v", got, err)
	}
	if rm, err := DecodeRejectMessage(h("01 0007")); err != nil || rm.Reason != 1 || rm.Net != 7 {
		t.Fatalf("%+v %v", rm, err)
	}
	for _, bad := range []string{"", "01", "0200", "0110", "0140", "0120", "01200005", "012000050105",
		"0108 0005 00", "0108 0000 0101", "0108 ffff 0101", "0120 0000 00ff", "0180", "0180 80 00", "0128 0005 01"} {
		if _, err := DecodeNPDU(h(bad)); err == nil {
			t.Errorf("NPDU %q decoded", bad)
		}
	}
	if _, err := AppendNPDU(nil, NPDU{HasDest: true}); err == nil {
		t.Error("DNET 0 encoded")
	}
	if _, err := AppendNPDU(nil, NPDU{HasSource: true, Source: Address{Net: 3}}); err == nil {
		t.Error("SADR of length 0 encoded")
	}
	if _, err := DecodeNetworkList([]byte{1}); err == nil {
		t.Error("odd network list")
	}
}

func TestBVLC(t *testing.T) {
	origin := netip.MustParseAddrPort("192.168.1.10:47808")
	fwd := BVLC{Function: BVLCForwardedNPDU, Origin: origin, NPDU: h("01001008")}
	b, err := AppendBVLC(nil, fwd)
	if err != nil || !bytes.Equal(b, h("8104 000e c0a8010a bac0 01001008")) {
		t.Fatalf("% X %v", b, err)
	}
	got, err := DecodeBVLC(b)
	if err != nil || !reflect.DeepEqual(got, fwd) || !got.CarriesNPDU() {
		t.Fatalf("%+v %v", got, err)
	}
	for _, m := range []BVLC{
		{Function: BVLCResult, Result: BVLCRegisterForeignDeviceNAK},
		{Function: BVLCRegisterForeignDevice, TTL: 900},
		{Function: BVLCDistributeBroadcastToNetwrk, NPDU: h("01001008")},
		{Function: BVLCOriginalBroadcastNPDU, NPDU: h("01001008")},
		{Function: BVLCReadBDT, NPDU: []byte{}},
	} {
		b, err := AppendBVLC(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBVLC(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%+v: %+v %v", m, got, err)
		}
	}
	if b, _ := AppendBVLC(nil, BVLC{Function: BVLCRegisterForeignDevice, TTL: 900}); !bytes.Equal(b, h("810500060384")) {
		t.Errorf("register % X", b)
	}
	for _, bad := range []string{"", "81", "810a00", "820a0004", "810a0003", "810a0005", "810a0006 00",
		"810a0004 00", "8100000400", "81000005 00", "8105000400", "8104000a c0a8010abac0", "81ff0004",
		"8104 0008 c0a8010a"} {
		if _, err := DecodeBVLC(h(bad)); err == nil {
			t.Errorf("BVLC %q decoded", bad)
		}
	}
	if _, err := AppendBVLC(nil, BVLC{Function: 0x42}); err == nil {
		t.Error("unknown function encoded")
	}
	if _, err := AppendBVLC(nil, BVLC{Function: BVLCForwardedNPDU, Origin: netip.MustParseAddrPort("[::1]:1")}); err == nil {
		t.Error("IPv6 origin encoded")
	}
}

func TestAPDUHeaders(t *testing.T) {
	cases := []APDU{
		{Type: PDUConfirmedRequest, SegmentedResponseAccepted: true, MaxSegments: 7, MaxAPDU: 5, InvokeID: 9, Service: 12, ServiceData: []byte{1}},
		{Type: PDUConfirmedRequest, Segmented: true, MoreFollows: true, MaxAPDU: 3, InvokeID: 1, Sequence: 4, WindowSize: 8, Service: 16, ServiceData: []byte{1, 2}},
		{Type: PDUUnconfirmedRequest, Service: ServiceWhoIs, ServiceData: []byte{}},
		{Type: PDUSimpleACK, InvokeID: 3, Service: 15},
		{Type: PDUComplexACK, InvokeID: 3, Service: 12, ServiceData: []byte{7}},
		{Type: PDUComplexACK, Segmented: true, InvokeID: 3, Sequence: 2, WindowSize: 4, Service: 14, ServiceData: []byte{7}},
		{Type: PDUSegmentACK, NAK: true, Server: true, InvokeID: 1, Sequence: 2, WindowSize: 3},
		{Type: PDUError, InvokeID: 2, Service: 12, ServiceData: h("9102 9120")},
		{Type: PDUReject, InvokeID: 2, Reason: 9},
		{Type: PDUAbort, Server: true, InvokeID: 2, Reason: 4},
	}
	for _, a := range cases {
		b, err := AppendAPDU(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAPDU(b)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("%+v\n got %+v %v", a, got, err)
		}
	}
	for _, bad := range []string{"", "00", "000500", "08050001", "10", "2001", "200102 03", "30", "380101",
		"4001", "6001", "700102 03", "80", "f0"} {
		if _, err := DecodeAPDU(h(bad)); err == nil {
			t.Errorf("APDU %q decoded", bad)
		}
	}
	if EncodeMaxAPDU(1476) != 5 || EncodeMaxAPDU(1482) != 5 || EncodeMaxAPDU(480) != 3 || EncodeMaxAPDU(10) != 0 ||
		DecodeMaxAPDU(5) != 1476 || DecodeMaxAPDU(12) != 50 {
		t.Error("max APDU codes")
	}
	for n, code := range map[int]uint8{0: 0, 2: 1, 3: 2, 4: 2, 16: 4, 64: 6, 65: 7} {
		if got := EncodeMaxSegments(n); got != code {
			t.Errorf("max segments %d: %d, want %d", n, got, code)
		}
	}
	if DecodeMaxSegments(0) != 0 || DecodeMaxSegments(4) != 16 || DecodeMaxSegments(7) != 128 {
		t.Error("max segments decode")
	}
	var e *Error
	if _, err := DecodeError(h("91029120 00")); err == nil {
		t.Error("error with trailing data")
	}
	if e, _ = DecodeError(h("0e 9102 9128 0f 1c00800000 2955")); e == nil || e.Code != 40 {
		t.Errorf("WritePropertyMultiple error %+v", e)
	}
	var target error = &RejectError{Reason: 9}
	if target.Error() != "bacnet reject: unrecognizedService" || (&AbortError{Reason: 4}).Error() != "bacnet abort: segmentationNotSupported" {
		t.Error("reject/abort text")
	}
	if !errors.As(target, new(*RejectError)) {
		t.Error("errors.As")
	}
}

func TestSegmentation(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i)
	}
	ack := APDU{Type: PDUComplexACK, InvokeID: 5, Service: ServiceReadPropertyMultiple, ServiceData: data}
	segs, err := Segment(ack, 206, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 5 || len(segs[0].ServiceData) != 201 || segs[4].MoreFollows || !segs[3].MoreFollows {
		t.Fatalf("%d segments", len(segs))
	}
	for _, s := range segs {
		b, _ := AppendAPDU(nil, s)
		if len(b) > 206 {
			t.Fatalf("segment of %d octets", len(b))
		}
	}
	r, first, err := NewReassembly(segs[0], 2, 4096)
	if err != nil || first.Sequence != 0 || first.WindowSize != 2 || !first.Server || r.Window() != 2 {
		t.Fatalf("%+v %v", first, err)
	}
	// Window 2: ACKs after sequence 2 and 4 (the last); 1 and 3 wait.
	var acks []uint8
	for _, s := range segs[1:] {
		a, done, err := r.Add(s)
		if err != nil {
			t.Fatal(err)
		}
		if a != nil {
			acks = append(acks, a.Sequence)
		}
		if done != (s.Sequence == 4) {
			t.Fatalf("done at %d", s.Sequence)
		}
	}
	if !reflect.DeepEqual(acks, []uint8{2, 4}) {
		t.Errorf("acks %v", acks)
	}
	m := r.Message()
	if !bytes.Equal(m.ServiceData, data) || m.Segmented || m.InvokeID != 5 {
		t.Error("reassembled message differs")
	}
	// Out of order: NAK with the last in-order sequence, then recovery.
	r, _, _ = NewReassembly(segs[0], 8, 4096)
	if a, _, _ := r.Add(segs[2]); a == nil || !a.NAK || a.Sequence != 0 {
		t.Errorf("gap not NAKed: %+v", a)
	}
	for _, s := range segs[1:] {
		if _, _, err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(r.Message().ServiceData, data) {
		t.Error("after NAK")
	}
	if a, done, _ := r.Add(segs[4]); a == nil || !done {
		t.Error("repeated last segment not re-ACKed")
	}
	// Bounds.
	r, _, _ = NewReassembly(segs[0], 8, 300)
	if _, _, err := r.Add(segs[1]); err == nil {
		t.Error("size bound not enforced")
	}
	if _, _, err := NewReassembly(segs[1], 8, 4096); err == nil {
		t.Error("reassembly started at sequence 1")
	}
	if _, err := Segment(ack, 206, 4, 4); err == nil {
		t.Error("more segments than the peer accepts")
	}
	if _, err := Segment(ack, 5, 4, 0); err == nil {
		t.Error("tiny max APDU")
	}
	if _, err := Segment(APDU{Type: PDUSimpleACK}, 50, 1, 0); err == nil {
		t.Error("segmented a SimpleACK")
	}
	if one, _ := Segment(APDU{Type: PDUConfirmedRequest, ServiceData: []byte{1}}, 50, 1, 0); len(one) != 1 || one[0].Segmented {
		t.Error("short message segmented")
	}
	req, _ := Segment(APDU{Type: PDUConfirmedRequest, InvokeID: 1, ServiceData: data}, 480, 3, 0)
	if len(req) != 3 || len(req[0].ServiceData) != 474 {
		t.Errorf("request segments %d", len(req))
	}
}

func TestServicesRoundTrip(t *testing.T) {
	idx := PropertyRef{Property: PropPriorityArray, Index: 8}
	rpm := []ReadAccessSpec{{Object: ObjectID{AnalogInput, 1}, Properties: []PropertyRef{{PropPresentValue, NoIndex}, idx}}}
	if got, err := DecodeReadPropertyMultiple(AppendReadPropertyMultiple(nil, rpm)); err != nil || !reflect.DeepEqual(got, rpm) {
		t.Errorf("RPM %+v %v", got, err)
	}
	wpm := []WriteAccessSpec{{Object: ObjectID{AnalogOutput, 1}, Values: []PropertyValue{{PropPresentValue, NoIndex, []Value{float32(3)}, 8}, {PropPresentValue, NoIndex, []Value{nil}, 8}}}}
	b, _ := AppendWritePropertyMultiple(nil, wpm)
	if got, err := DecodeWritePropertyMultiple(b); err != nil || !reflect.DeepEqual(got, wpm) {
		t.Errorf("WPM %+v %v", got, err)
	}
	wp := WriteProperty{Object: ObjectID{BinaryOutput, 1}, Property: PropPresentValue, Index: NoIndex, Value: []Value{Enumerated(1)}, Priority: 16}
	b, _ = AppendWriteProperty(nil, wp)
	if got, err := DecodeWriteProperty(b); err != nil || !reflect.DeepEqual(got, wp) {
		t.Errorf("WP %+v %v", got, err)
	}
	if _, err := AppendWriteProperty(nil, WriteProperty{Priority: 17}); err == nil {
		t.Error("priority 17 encoded")
	}
	if _, err := DecodeWriteProperty(h("0c00800000 1955 3e 00 3f 4911")); err == nil {
		t.Error("priority 17 decoded")
	}
	cancel := SubscribeCOV{ProcessID: 1, Object: ObjectID{AnalogInput, 2}, Cancel: true}
	if got, err := DecodeSubscribeCOV(AppendSubscribeCOV(nil, cancel), false); err != nil || !reflect.DeepEqual(got, cancel) {
		t.Errorf("cancel %+v %v", got, err)
	}
	sp := SubscribeCOV{ProcessID: 1, Object: ObjectID{AnalogInput, 2}, Lifetime: 60, Property: &PropertyRef{PropPresentValue, NoIndex}, Increment: 0.5, HasIncrement: true}
	if got, err := DecodeSubscribeCOV(AppendSubscribeCOV(nil, sp), true); err != nil || !reflect.DeepEqual(got, sp) {
		t.Errorf("SubscribeCOVProperty %+v %v", got, err)
	}
	wh := WhoHas{ByName: true, Name: "Zone Temp"}
	if got, err := DecodeWhoHas(AppendWhoHas(nil, wh)); err != nil || !reflect.DeepEqual(got, wh) {
		t.Errorf("Who-Has %+v %v", got, err)
	}
	for i, bad := range []func() error{
		func() error { _, err := DecodeReadPropertyMultiple(nil); return err },
		func() error { _, err := DecodeReadPropertyMultiple(h("0c00000001 1e 1f")); return err },
		func() error { _, err := DecodeReadPropertyMultiple(h("0c00000001 1e 0955")); return err },
		func() error { _, err := DecodeReadPropertyMultipleACK(h("0c00000001 1e 2955 1f")); return err },
		func() error {
			_, err := DecodeReadPropertyMultipleACK(h("0c00000001 1e 2955 5e 9102 5f 1f"))
			return err
		},
		func() error { _, err := DecodeWritePropertyMultiple(nil); return err },
		func() error { _, err := DecodeWhoIs(h("0901")); return err },
		func() error { _, err := DecodeWhoIs(h("0a4000001a4000")); return err },
		func() error { _, err := DecodeWhoHas(nil); return err },
		func() error { _, err := DecodeIAm(h("c400000001 2205c4 9100 210f")); return err },
		func() error { _, err := DecodeIAm(h("c402000001 2205c4 9104 210f")); return err },
		func() error { _, err := DecodeReadPropertyACK(h("0c00000001 1955 3e 44")); return err },
		func() error {
			_, err := DecodeCOVNotification(h("0901 1c02000001 2c00000001 3900 4e 0955 2e 00 3f"))
			return err
		},
		func() error { _, err := DecodeSubscribeCOV(h("0901 1c00000001 2902"), false); return err },
	} {
		if bad() == nil {
			t.Errorf("malformed service data decoded (case %d)", i)
		}
	}
}
