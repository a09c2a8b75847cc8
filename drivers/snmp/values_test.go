package snmp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestScalar(t *testing.T) {
	for _, tc := range []struct {
		pdu  gosnmp.SnmpPDU
		mode octetMode
		want any
	}{
		{gosnmp.SnmpPDU{Type: gosnmp.Integer, Value: -5}, octetAuto, int64(-5)},
		{gosnmp.SnmpPDU{Type: gosnmp.Counter32, Value: uint(7)}, octetAuto, int64(7)},
		{gosnmp.SnmpPDU{Type: gosnmp.Gauge32, Value: uint(4294967295)}, octetAuto, int64(4294967295)},
		{gosnmp.SnmpPDU{Type: gosnmp.Uinteger32, Value: uint32(9)}, octetAuto, int64(9)},
		{gosnmp.SnmpPDU{Type: gosnmp.Counter64, Value: uint64(1 << 40)}, octetAuto, int64(1 << 40)},
		{gosnmp.SnmpPDU{Type: gosnmp.Counter64, Value: uint64(1<<64 - 1)}, octetAuto, float64(1<<64 - 1)},
		{gosnmp.SnmpPDU{Type: gosnmp.TimeTicks, Value: uint32(103)}, octetAuto, 1.03},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte("Linux box")}, octetAuto, "Linux box"},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte("nul\x00")}, octetAuto, "nul\x00"},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte{0x02, 0xfc, 0, 1}}, octetAuto, "02:fc:00:01"},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte("ab")}, octetHex, "61:62"},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte{0xff, 'a'}}, octetText, "\uFFFDa"},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte{}}, octetHex, ""},
		{gosnmp.SnmpPDU{Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072"}, octetAuto, "1.3.6.1.4.1.8072"},
		{gosnmp.SnmpPDU{Type: gosnmp.IPAddress, Value: "10.0.0.1"}, octetAuto, "10.0.0.1"},
		{gosnmp.SnmpPDU{Type: gosnmp.OpaqueFloat, Value: float32(1.5)}, octetAuto, 1.5},
		{gosnmp.SnmpPDU{Type: gosnmp.OpaqueDouble, Value: 2.25}, octetAuto, 2.25},
		{gosnmp.SnmpPDU{Type: gosnmp.Boolean, Value: 1}, octetAuto, true},
		{gosnmp.SnmpPDU{Type: gosnmp.BitString, Value: []byte{0x80}}, octetAuto, "80"},
	} {
		got, ok := scalar(tc.pdu, tc.mode)
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v %v: got %#v %v, want %#v", tc.pdu.Type, tc.pdu.Value, got, ok, tc.want)
		}
	}
	for _, typ := range []gosnmp.Asn1BER{gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView} {
		if v, ok := scalar(gosnmp.SnmpPDU{Type: typ}, octetAuto); ok {
			t.Errorf("%v: got %v", typ, v)
		}
	}
}

func TestSetPDU(t *testing.T) {
	for _, tc := range []struct {
		v        any
		typ      string
		wantType gosnmp.Asn1BER
		want     any
	}{
		{"hello", "", gosnmp.OctetString, "hello"},
		{float64(42), "", gosnmp.Integer, 42},
		{json.Number("-7"), "", gosnmp.Integer, -7},
		{int64(3), "", gosnmp.Integer, 3},
		{1.5, "", gosnmp.OctetString, "1.5"},
		{true, "", gosnmp.Integer, 1},
		{false, "", gosnmp.Integer, 2},
		{"17", "i", gosnmp.Integer, 17},
		{"17", "u", gosnmp.Gauge32, uint32(17)},
		{float64(100), "timeticks", gosnmp.TimeTicks, uint32(100)},
		{"5", "counter64", gosnmp.Counter64, uint64(5)},
		{"00:1a:2B", "x", gosnmp.OctetString, []byte{0, 0x1a, 0x2b}},
		{"1.3.6.1", "o", gosnmp.ObjectIdentifier, ".1.3.6.1"},
		{"10.1.2.3", "a", gosnmp.IPAddress, []byte{10, 1, 2, 3}},
		{float64(12), "s", gosnmp.OctetString, "12"},
	} {
		pdu, err := setPDU(".1.3", tc.v, tc.typ)
		if err != nil || pdu.Type != tc.wantType || !reflect.DeepEqual(pdu.Value, tc.want) {
			t.Errorf("%#v %q: got %v %#v %v", tc.v, tc.typ, pdu.Type, pdu.Value, err)
		}
	}
	for _, tc := range []struct {
		v   any
		typ string
	}{
		{"x", "i"}, {float64(1 << 40), ""}, {"-1", "u"}, {"zz", "x"}, {"::1", "a"}, {"1.x", "o"},
		{nil, ""}, {map[string]any{}, ""}, {"1", "nope"},
	} {
		if pdu, err := setPDU(".1.3", tc.v, tc.typ); err == nil {
			t.Errorf("%#v %q: no error, got %v %#v", tc.v, tc.typ, pdu.Type, pdu.Value)
		}
	}
}

func TestSubstitute(t *testing.T) {
	if v := substitute("${attribute}", "k", 5.0); v != 5.0 {
		t.Errorf("whole placeholder: %#v", v)
	}
	if v := substitute("pre ${attributeValue} ${attributeKey}", "k", 5.0); v != "pre 5 k" {
		t.Errorf("inline: %#v", v)
	}
	if v := substitute("10", "k", 5.0); v != "10" {
		t.Errorf("constant: %#v", v)
	}
	if v := substitute(true, "k", 5.0); v != true {
		t.Errorf("non-string: %#v", v)
	}
}

func TestTableShape(t *testing.T) {
	tab := newTable(".1.3.6.1.2.1.2.2", 0)
	for _, p := range []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.2.2.1.1.1", Type: gosnmp.Integer, Value: 1},
		{Name: ".1.3.6.1.2.1.2.2.1.1.2", Type: gosnmp.Integer, Value: 2},
		{Name: ".1.3.6.1.2.1.2.2.1.2.1", Type: gosnmp.OctetString, Value: []byte("lo")},
		{Name: ".1.3.6.1.2.1.2.2.1.2.2", Type: gosnmp.OctetString, Value: []byte("eth0")},
	} {
		tab.add(p, octetAuto)
	}
	got, err := tab.json()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"1":{"1":"1","2":"lo"},"2":{"1":"2","2":"eth0"}}`
	if string(got.(json.RawMessage)) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// A group of scalars (upstream's sample walks the system group).
	sys := newTable(".1.3.6.1.2.1.1", 0)
	sys.add(gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.OctetString, Value: []byte("Linux")}, octetAuto)
	sys.add(gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: []byte("name")}, octetAuto)
	sys.add(gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.9.1.2.1", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6"}, octetAuto)
	got, _ = sys.json()
	if want := `{"0":{"1":"Linux","5":"name"},"1":{"2":"1.3.6"}}`; string(got.(json.RawMessage)) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// numBaseNodes: ipAddrTable rows indexed by an address.
	ip := newTable(".1.3.6.1.2.1.4.20", 9)
	ip.add(gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.4.20.1.2.127.0.0.1", Type: gosnmp.Integer, Value: 1}, octetAuto)
	got, _ = ip.json()
	if want := `{"127.0.0.1":{"2":"1"}}`; string(got.(json.RawMessage)) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestObjectJSON(t *testing.T) {
	var o object
	o.addAll([]gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.OctetString, Value: []byte("say \"hi\"\n")},
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(250)},
		{Name: ".1.3.6.1.2.1.1.4.0", Type: gosnmp.NoSuchObject},
	}, octetAuto)
	got, err := o.json()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"1.3.6.1.2.1.1.1.0":"say \"hi\"\n","1.3.6.1.2.1.1.3.0":"2.5"}`
	if string(got.(json.RawMessage)) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	var empty object
	if _, err := empty.json(); err == nil {
		t.Error("empty object: no error")
	}
}

func TestOIDLess(t *testing.T) {
	if !oidLess(".1.3.6.1.2", ".1.3.6.1.10") || oidLess(".1.3.6.1.10", ".1.3.6.1.2") || !oidLess(".1.3", ".1.3.1") {
		t.Error("order")
	}
}
