package knx

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

func TestAddresses(t *testing.T) {
	for in, want := range map[string]Group{"1/0/6": 0x0806, "31/7/255": 0xffff, "1/6": 0x0806, "2054": 0x0806, "0/0/0": 0} {
		g, err := ParseGroup(in)
		if err != nil || g != want {
			t.Errorf("ParseGroup(%s) = %v %v", in, g, err)
		}
	}
	for _, bad := range []string{"32/0/0", "1/8/0", "1/0/256", "1/2048", "65536", "a/b/c", "", "1/2/3/4", "-1"} {
		if _, err := ParseGroup(bad); err == nil {
			t.Errorf("ParseGroup(%q) accepted", bad)
		}
	}
	g := Group(0x0806)
	if g.Format(Long) != "1/0/6" || g.Format(Short) != "1/6" || g.Format(Free) != "2054" {
		t.Error(g.Format(Long), g.Format(Short), g.Format(Free))
	}
	a, err := ParseIndividual("1.0.10")
	if err != nil || a != 0x100a || a.String() != "1.0.10" {
		t.Errorf("%v %v", a, err)
	}
	for _, bad := range []string{"16.0.0", "1.0", "1.0.256", "x.y.z"} {
		if _, err := ParseIndividual(bad); err == nil {
			t.Errorf("ParseIndividual(%q) accepted", bad)
		}
	}
	if f, err := ParseFormat("short"); err != nil || f != Short {
		t.Error(f, err)
	}
	if _, err := ParseFormat("medium"); err == nil {
		t.Error("medium accepted")
	}
}

func TestDPT(t *testing.T) {
	for _, tc := range []struct {
		typ   string
		in    any
		hex   string // data
		small byte
		out   any
	}{
		{"temperature", 21.5, "0c33", 0, 21.5},
		{"9.001", -30.0, "8a24", 0, -30.0},
		{"DPT9", 0.01, "0001", 0, 0.01},
		{"humidity", "45.2", "146a", 0, 45.2},
		{"9.001", 670433.28, "7ffe", 0, 670433.28},
		{"9.001", -671088.64, "f800", 0, -671088.64},
		{"switch", true, "", 1, true},
		{"1.001", "off", "", 0, false},
		{"percent", 100.0, "ff", 0, 100.0},
		{"5.001", 50, "80", 0, 50.2},
		{"angle", 360, "ff", 0, 360.0},
		{"precent_U8", 200, "c8", 0, int64(200)},
		{"percentU8", "17", "11", 0, int64(17)},
		{"6.010", -5, "fb", 0, int64(-5)},
		{"7.001", 65535, "ffff", 0, int64(65535)},
		{"brightness", 1000, "03e8", 0, int64(1000)},
		{"8.001", -2, "fffe", 0, int64(-2)},
		{"12.001", 4294967295.0, "ffffffff", 0, int64(4294967295)},
		{"13.010", -1, "ffffffff", 0, int64(-1)},
		{"DPST-13-10", 1234567, "0012d687", 0, int64(1234567)},
		{"14.056", 1.5, "3fc00000", 0, 1.5},
		{"power", 230.1, "4366199a", 0, 230.1},
		{"string", "KNX is OK", "4b4e58206973204f4b0000000000", 0, "KNX is OK"},
		{"latin_1", "Grüße", "4772fc9f6500000000000000000000"[:28], 0, nil},
		{"scene_number", 63, "3f", 0, int64(63)},
		{"3.007", 9, "", 9, int64(9)},
	} {
		d, err := LookupDPT(tc.typ)
		if err != nil {
			t.Errorf("%s: %v", tc.typ, err)
			continue
		}
		data, small, err := d.Encode(tc.in)
		if tc.out == nil { // encode only checks that it fails or works
			if tc.typ == "latin_1" && (err != nil || data[2] != 0xfc) {
				t.Errorf("latin_1: % x %v", data, err)
			}
			continue
		}
		if err != nil || hex.EncodeToString(data) != tc.hex || small != tc.small {
			t.Errorf("%s Encode(%v) = %x %d %v, want %s %d", tc.typ, tc.in, data, small, err, tc.hex, tc.small)
			continue
		}
		got, err := d.Decode(data, small, d.Small())
		if err != nil || got != tc.out {
			t.Errorf("%s Decode(%x) = %#v %v, want %#v", tc.typ, data, got, err, tc.out)
		}
	}
	for _, tc := range []struct {
		typ string
		in  any
	}{
		{"temperature", 700000.0}, {"temperature", 670760.96}, {"percentU8", 256}, {"percentU8", 1.5}, {"6.001", 128}, {"7.001", -1},
		{"string", "fifteen chars!!"}, {"string", "é"}, {"switch", "maybe"}, {"9.001", "abc"}, {"14.000", 1e39},
		{"9.001", map[string]any{}},
	} {
		d, _ := LookupDPT(tc.typ)
		if _, _, err := d.Encode(tc.in); err == nil {
			t.Errorf("%s Encode(%v) accepted", tc.typ, tc.in)
		}
	}
	for _, bad := range []string{"", "nonsense", "4.001", "DPT", "x.1", "DPST-9"} {
		if _, err := LookupDPT(bad); err == nil {
			t.Errorf("LookupDPT(%q) accepted", bad)
		}
	}
	d, _ := LookupDPT("temperature")
	if _, err := d.Decode([]byte{1}, 0, false); err == nil {
		t.Error("short DPT 9 decoded")
	}
	if d, _ := LookupDPT("Temperature"); d == nil || d.ID != "9.001" {
		t.Error("names are case-insensitive")
	}
}

func TestCEMI(t *testing.T) {
	c := CEMI{Code: LDataReq, Ctrl1: DefaultCtrl1, Ctrl2: DefaultCtrl2, Dst: 0x0809, APCI: GroupValueWrite, Small: 1, IsSmall: true}
	if got := hex.EncodeToString(c.Append(nil)); got != "1100bce00000080901 0081"[:18]+"0081" {
		t.Errorf("small write %s", got)
	}
	c = CEMI{Code: LDataReq, Ctrl1: DefaultCtrl1, Ctrl2: DefaultCtrl2, Dst: 0x0a03, APCI: GroupValueWrite, Data: []byte{0x0c, 0x33}}
	b := c.Append(nil)
	if got := hex.EncodeToString(b); got != "1100bce000000a030300800c33" {
		t.Errorf("long write %s", got)
	}
	p, err := ParseCEMI(b)
	if err != nil || p.APCI != GroupValueWrite || !bytes.Equal(p.Data, []byte{0x0c, 0x33}) || p.Dst != 0x0a03 || !p.GroupDst() {
		t.Errorf("%+v %v", p, err)
	}
	read := CEMI{Code: LDataReq, Ctrl1: DefaultCtrl1, Ctrl2: DefaultCtrl2, Dst: 1, APCI: GroupValueRead}.Append(nil)
	if got := hex.EncodeToString(read); got != "1100bce0000000010100 00"[:20]+"00" {
		t.Errorf("read %s", got)
	}
	// An indication with additional info, a response with a small value.
	ind, _ := hex.DecodeString("29020301bce0100a0806010041")
	p, err = ParseCEMI(ind)
	if err != nil || p.Code != LDataInd || p.Src.String() != "1.0.10" || Group(p.Dst).String() != "1/0/6" || p.APCI != GroupValueResponse || !p.IsSmall || p.Small != 1 {
		t.Errorf("%+v %v", p, err)
	}
	for _, bad := range []string{"", "11", "fe00bce0000000010100", "1100bce00000000105008000", "1105bce0"} {
		b, _ := hex.DecodeString(strings.ReplaceAll(bad, " ", ""))
		if _, err := ParseCEMI(b); err == nil {
			t.Errorf("ParseCEMI(%s) accepted", bad)
		}
	}
}

func TestFrames(t *testing.T) {
	ctl := HPAI{Addr: netip.MustParseAddrPort("10.77.0.2:40000")}
	b := AppendConnectRequest(nil, ctl, ctl)
	if got := hex.EncodeToString(b); got != "06100205001a"+"08010a4d00029c40"+"08010a4d00029c40"+"04040200" {
		t.Errorf("connect %s", got)
	}
	f, err := ParseFrame(b)
	if err != nil || f.Service != ConnectRequest || len(f.Body) != 20 {
		t.Errorf("%+v %v", f, err)
	}
	resp, _ := hex.DecodeString("061002060014" + "1500" + "08010a4d00010e57" + "040411ff")
	f, err = ParseFrame(resp)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := ParseConnectResponse(f.Body)
	if err != nil || cr.Channel != 0x15 || cr.Status != 0 || cr.Address.String() != "1.1.255" || cr.Data.Addr.String() != "10.77.0.1:3671" {
		t.Errorf("%+v %v", cr, err)
	}
	tun := AppendTunnelling(nil, 0x15, 7, []byte{0x11, 0})
	f, _ = ParseFrame(tun)
	tt, err := ParseTunnel(f.Body)
	if err != nil || tt.Channel != 0x15 || tt.Seq != 7 || !bytes.Equal(tt.CEMI, []byte{0x11, 0}) {
		t.Errorf("%+v %v", tt, err)
	}
	if got := hex.EncodeToString(AppendTunnellingAck(nil, 0x15, 7, 0)); got != "06100421000a04150700" {
		t.Error(got)
	}
	if got := hex.EncodeToString(AppendConnectionState(nil, ConnectionStateRequest, 0x15, ctl)); got != "061002070010150008010a4d00029c40" {
		t.Error(got)
	}
	if got := hex.EncodeToString(AppendRouting(nil, []byte{0x29, 0})); got != "0610053000082900" {
		t.Error(got)
	}
	if got := hex.EncodeToString(AppendSearchRequest(nil, ctl)); got != "06100201000e08010a4d00029c40" {
		t.Error(got)
	}
	// A search response with device info and service families.
	dib := make([]byte, 54)
	dib[0], dib[1], dib[2] = 54, 1, 0x20
	dib[4], dib[5] = 0x10, 0x01
	copy(dib[24:], "knxd-test")
	body := append(ctl.append(nil), dib...)
	body = append(body, 6, 2, 4, 1, 5, 1)
	g, err := ParseSearchResponse(body)
	if err != nil || g.Name != "knxd-test" || g.Address.String() != "1.0.1" || !g.Tunnelling || !g.Routing {
		t.Errorf("%+v %v", g, err)
	}
	for _, bad := range []string{"", "0610", "0611020100060000", "061002010007", "0610020100ff"} {
		b, _ := hex.DecodeString(bad)
		if _, err := ParseFrame(b); err == nil {
			t.Errorf("ParseFrame(%s) accepted", bad)
		}
	}
	if StatusText(StatusNoMoreConnections) != "no more connections" {
		t.Error(StatusText(0x24))
	}
}
