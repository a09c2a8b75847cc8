package bacnet

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

type capture struct {
	name string
	b    []byte
}

// loadCaptures reads testdata/captures.txt: datagrams recorded between two
// @bacnet-js/client stacks (testdata/capture.js).
func loadCaptures(t testing.TB) []capture {
	f, err := os.Open("testdata/captures.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []capture
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, h, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, capture{name, b})
	}
	return out
}

// reencode decodes a whole datagram including its service and encodes it
// again with this package's encoders.
func reencode(b []byte) ([]byte, string, error) {
	m, err := DecodeMessage(b)
	if err != nil {
		return nil, "", err
	}
	if !m.BVLC.CarriesNPDU() {
		out, err := AppendBVLC(nil, m.BVLC)
		return out, fmt.Sprintf("bvlc %d", m.BVLC.Function), err
	}
	if m.NPDU.Network {
		np, err := AppendNPDU(nil, m.NPDU)
		if err != nil {
			return nil, "", err
		}
		out, err := AppendBVLC(nil, BVLC{Function: m.BVLC.Function, Origin: m.BVLC.Origin, NPDU: np})
		return out, "network", err
	}
	a := m.APDU
	var data []byte
	var desc string
	switch {
	case a.Type == PDUUnconfirmedRequest && a.Service == ServiceWhoIs:
		w, err := DecodeWhoIs(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendWhoIs(nil, w), fmt.Sprintf("%+v", w)
	case a.Type == PDUUnconfirmedRequest && a.Service == ServiceIAm:
		w, err := DecodeIAm(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendIAm(nil, w), fmt.Sprintf("%+v", w)
	case a.Type == PDUUnconfirmedRequest && a.Service == ServiceWhoHas:
		w, err := DecodeWhoHas(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendWhoHas(nil, w), fmt.Sprintf("%+v", w)
	case a.Type == PDUUnconfirmedRequest && a.Service == ServiceIHave:
		w, err := DecodeIHave(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendIHave(nil, w), fmt.Sprintf("%+v", w)
	case (a.Type == PDUUnconfirmedRequest && a.Service == ServiceUnconfirmedCOVNotification) ||
		(a.Type == PDUConfirmedRequest && a.Service == ServiceConfirmedCOVNotification):
		w, err := DecodeCOVNotification(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		if data, err = AppendCOVNotification(nil, w); err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("%+v", w)
	case a.Type == PDUConfirmedRequest && a.Service == ServiceReadProperty:
		w, err := DecodeReadProperty(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendReadProperty(nil, w), fmt.Sprintf("%+v", w)
	case a.Type == PDUComplexACK && a.Service == ServiceReadProperty:
		w, err := DecodeReadPropertyACK(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		if data, err = AppendReadPropertyACK(nil, w); err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("%+v", w)
	case a.Type == PDUConfirmedRequest && a.Service == ServiceReadPropertyMultiple:
		w, err := DecodeReadPropertyMultiple(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendReadPropertyMultiple(nil, w), fmt.Sprintf("%+v", w)
	case a.Type == PDUComplexACK && a.Service == ServiceReadPropertyMultiple:
		w, err := DecodeReadPropertyMultipleACK(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		if data, err = AppendReadPropertyMultipleACK(nil, w); err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("%+v", w)
	case a.Type == PDUConfirmedRequest && a.Service == ServiceWriteProperty:
		w, err := DecodeWriteProperty(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		if data, err = AppendWriteProperty(nil, w); err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("%+v", w)
	case a.Type == PDUConfirmedRequest && a.Service == ServiceWritePropertyMultiple:
		w, err := DecodeWritePropertyMultiple(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		if data, err = AppendWritePropertyMultiple(nil, w); err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("%+v", w)
	case a.Type == PDUConfirmedRequest && (a.Service == ServiceSubscribeCOV || a.Service == ServiceSubscribeCOVProperty):
		w, err := DecodeSubscribeCOV(a.ServiceData, a.Service == ServiceSubscribeCOVProperty)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendSubscribeCOV(nil, w), fmt.Sprintf("%+v", w)
	case a.Type == PDUError:
		w, err := DecodeError(a.ServiceData)
		if err != nil {
			return nil, "", err
		}
		data, desc = AppendError(nil, *w), w.Error()
	default:
		data, desc = a.ServiceData, fmt.Sprintf("pdu %d service %d", a.Type, a.Service)
	}
	a.ServiceData = data
	out, err := AppendMessage(nil, m.BVLC.Function, m.NPDU, a)
	return out, desc, err
}

func TestCapturesRoundTrip(t *testing.T) {
	cs := loadCaptures(t)
	if len(cs) < 20 {
		t.Fatalf("only %d captures", len(cs))
	}
	for _, c := range cs {
		got, desc, err := reencode(c.b)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(got, c.b) {
			t.Errorf("%s: re-encoded\n got % X\nwant % X\n(%s)", c.name, got, c.b, desc)
		}
	}
}

func TestCapturesTruncated(t *testing.T) {
	// Every strict prefix of a datagram is rejected by the BVLC length
	// check; every prefix of the service data either fails or decodes.
	for _, c := range loadCaptures(t) {
		for n := range len(c.b) {
			if _, err := DecodeMessage(c.b[:n]); err == nil {
				t.Errorf("%s: prefix of %d octets decoded", c.name, n)
			}
		}
	}
}

func TestCaptureValues(t *testing.T) {
	byName := map[string][]byte{}
	for _, c := range loadCaptures(t) {
		byName[c.name] = c.b
	}
	service := func(name string) APDU {
		t.Helper()
		m, err := DecodeMessage(byName[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m.APDU
	}
	iam, err := DecodeIAm(service("whois.resp").ServiceData)
	if err != nil || iam.Device != (ObjectID{DeviceType, 1234}) || iam.MaxAPDU != 1482 || iam.VendorID != 15 || iam.Segmentation != SegmentedBoth {
		t.Errorf("I-Am %+v %v", iam, err)
	}
	w, err := DecodeWhoIs(service("whois-range.req").ServiceData)
	if err != nil || w != (WhoIs{true, 1000, 2000}) || w.Matches(999) || !w.Matches(1500) {
		t.Errorf("Who-Is %+v %v", w, err)
	}
	ack, err := DecodeReadPropertyACK(service("readprop.resp").ServiceData)
	if err != nil || len(ack.Value) != 1 || ack.Value[0] != float32(21.5) || ack.Property != PropPresentValue {
		t.Errorf("ReadProperty-ACK %+v %v", ack, err)
	}
	ack, _ = DecodeReadPropertyACK(service("readprop-name.resp").ServiceData)
	if len(ack.Value) != 1 || ack.Value[0] != "Zone Temp ÄÖ" {
		t.Errorf("name %+v", ack.Value)
	}
	ack, _ = DecodeReadPropertyACK(service("readprop-flags.resp").ServiceData)
	if bs, ok := ack.Value[0].(BitString); !ok || bs.String() != "0100" {
		t.Errorf("flags %+v", ack.Value)
	}
	a := service("readprop-error.resp")
	e, err := DecodeError(a.ServiceData)
	if a.Type != PDUError || err != nil || e.Class != 2 || e.Code != 32 || e.Error() != "bacnet error property:unknownProperty" {
		t.Errorf("error %+v %v", e, err)
	}
	res, err := DecodeReadPropertyMultipleACK(service("rpm.resp").ServiceData)
	if err != nil || len(res) != 2 || res[0].Results[0].Value[0] != float32(21.5) ||
		res[0].Results[1].Value[0] != Enumerated(62) || res[1].Results[1].Err == nil || res[1].Results[1].Err.Code != 32 {
		t.Errorf("RPM-ACK %+v %v", res, err)
	}
	wp, err := DecodeWriteProperty(service("writeprop.req").ServiceData)
	if err != nil || wp.Priority != 8 || wp.Value[0] != float32(55.5) {
		t.Errorf("WriteProperty %+v %v", wp, err)
	}
	cov, err := DecodeCOVNotification(service("subcov.resp").ServiceData)
	if err == nil && len(cov.Values) == 0 {
		t.Error("no COV values")
	}
	// The COV notification is the second "subcov.resp" line.
	for _, c := range loadCaptures(t) {
		m, _ := DecodeMessage(c.b)
		if m.APDU.Type == PDUUnconfirmedRequest && m.APDU.Service == ServiceUnconfirmedCOVNotification {
			cov, err = DecodeCOVNotification(m.APDU.ServiceData)
		}
	}
	if err != nil || cov.ProcessID != 7 || cov.TimeRemaining != 300 || cov.Values[0].Value[0] != float32(22.25) || cov.Object != (ObjectID{AnalogValue, 0}) {
		t.Errorf("COV %+v %v", cov, err)
	}
	s, err := DecodeSubscribeCOV(service("subcovprop.req").ServiceData, true)
	if err != nil || !s.Confirmed || s.Property == nil || s.Property.Property != PropPresentValue || s.ProcessID != 8 {
		t.Errorf("SubscribeCOVProperty %+v %v", s, err)
	}
	m, err := DecodeMessage(byName["regfd.req"])
	if err != nil || m.BVLC.Function != BVLCRegisterForeignDevice || m.BVLC.TTL != 900 {
		t.Errorf("Register-Foreign-Device %+v %v", m, err)
	}
}
