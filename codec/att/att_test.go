package att

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestUUID(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2A00", "00002A00-0000-1000-8000-00805F9B34FB"},
		{"0x2a00", "00002A00-0000-1000-8000-00805F9B34FB"},
		{"00002A00-0000-1000-8000-00805F9B34FB", "00002A00-0000-1000-8000-00805F9B34FB"},
		{"226caa55-6476-4566-7562-66734470666d", "226CAA55-6476-4566-7562-66734470666D"},
		{"0000180F", "0000180F-0000-1000-8000-00805F9B34FB"},
	} {
		u, err := ParseUUID(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if u.String() != c.want {
			t.Errorf("%s: %s, want %s", c.in, u, c.want)
		}
	}
	if MustUUID("00002A00-0000-1000-8000-00805F9B34FB") != DeviceName || !DeviceName.Is16() {
		t.Error("base UUID form of 0x2A00 does not shorten")
	}
	u := MustUUID("226CAA55-6476-4566-7562-66734470666D")
	if got := hex.EncodeToString(u.Wire()); got != "6d667044736662756645766455aa6c22" {
		t.Errorf("wire order %s", got)
	}
	for _, bad := range []string{"", "2A", "xyz0", "00002A00-0000-1000-8000-00805F9B34"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Vectors: PDUs as BlueZ's btmon shows them on a real link.
func TestVectors(t *testing.T) {
	for _, c := range []struct {
		hex string
		pdu PDU
	}{
		{"02 0502", &MTUReq{MTU: 517}},
		{"03 1700", &MTURsp{MTU: 23}},
		{"10 0100 ffff 0028", &ReadByGroupReq{Range{1, 0xffff}, PrimaryService}},
		{"11 06 0100 0700 0018 0800 0b00 0118", &ReadByGroupRsp{[]GroupValue{
			{Range{1, 7}, h("0018")}, {Range{8, 11}, h("0118")}}}},
		{"08 0100 0700 0328", &ReadByTypeReq{Range{1, 7}, Characteristic}},
		{"09 07 0200 02 0300 002a", &ReadByTypeRsp{[]HandleValue{{2, h("02 0300 002a")}}}},
		{"04 0400 0500", &FindInfoReq{Range{4, 5}}},
		{"05 01 0400 0229", &FindInfoRsp{[]HandleType{{4, ClientConfig}}}},
		{"0a 0300", &ReadReq{Handle: 3}},
		{"0c 0300 1600", &ReadBlobReq{Handle: 3, Offset: 22}},
		{"0b 74626777", &ValuePDU{Code: OpReadRsp, Value: []byte("tbgw")}},
		{"12 0400 0100", &HandleValuePDU{Code: OpWriteReq, Handle: 4, Value: h("0100")}},
		{"13", &Empty{Code: OpWriteRsp}},
		{"52 0300 41", &HandleValuePDU{Code: OpWriteCmd, Handle: 3, Value: []byte("A")}},
		{"1b 0300 1722", &HandleValuePDU{Code: OpNotify, Handle: 3, Value: h("1722")}},
		{"1d 0300 01", &HandleValuePDU{Code: OpIndicate, Handle: 3, Value: h("01")}},
		{"1e", &Empty{Code: OpConfirm}},
		{"01 0a 0300 0a", &ErrorRsp{Req: OpReadReq, Handle: 3, Code: ErrAttributeNotFound}},
		{"16 0300 0000 41", &PrepareWrite{Code: OpPrepareWriteReq, Handle: 3, Offset: 0, Value: []byte("A")}},
		{"17 0300 1200 4142", &PrepareWrite{Code: OpPrepareWriteRsp, Handle: 3, Offset: 18, Value: []byte("AB")}},
		{"16 0300 0002", &PrepareWrite{Code: OpPrepareWriteReq, Handle: 3, Offset: 512}},
		{"18 01", &ExecuteWriteReq{Flags: ExecuteWrite}},
		{"18 00", &ExecuteWriteReq{Flags: ExecuteCancel}},
		{"19", &Empty{Code: OpExecuteWriteRsp}},
		{"20 0300 41", &Unknown{Code: 0x20, Params: h("0300 41")}},
	} {
		raw := h(c.hex)
		if got := Encode(c.pdu); !bytes.Equal(got, raw) {
			t.Errorf("encode %T: % x, want % x", c.pdu, got, raw)
		}
		p, err := Decode(raw)
		if err != nil {
			t.Errorf("decode %s: %v", c.hex, err)
			continue
		}
		if got := Encode(p); !bytes.Equal(got, raw) {
			t.Errorf("decode+encode %s: % x", c.hex, got)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []string{
		"", "01", "01 0a 0300", "02", "02 050200", "09 07 0200", "09 01 0200", "09 04 0200 01",
		"11 03 01000200", "05 03 0400 0229", "05 01 0400 02", "08 0100 0700 03", "08 0100 0700 00000000",
		"12 04", "13 00", "1e 00", "16 0300 00", "17 03", "18", "18 0100", "18 02", "19 00",
	} {
		if p, err := Decode(h(c)); err == nil {
			t.Errorf("%q: decoded as %#v", c, p)
		}
	}
	_, err := Decode(h("12 04"))
	if !errors.Is(err, ErrShort) {
		t.Errorf("truncated write: %v does not wrap ErrShort", err)
	}
}

func TestOpcodeClasses(t *testing.T) {
	if !OpPrepareWriteRsp.IsResponse() || !OpExecuteWriteRsp.IsResponse() || !OpExecuteWriteReq.IsRequest() {
		t.Error("prepare/execute write classes")
	}
	if !OpReadReq.IsRequest() || OpWriteCmd.IsRequest() || OpNotify.IsRequest() {
		t.Error("IsRequest")
	}
	if !OpReadRsp.IsResponse() || !OpError.IsResponse() || OpConfirm.IsResponse() || OpNotify.IsResponse() || OpWriteCmd.IsResponse() {
		t.Error("IsResponse")
	}
}

func TestCharDecl(t *testing.T) {
	d, err := ParseCharDecl(h("1a 0300 6d667044736662756645766455aa6c22"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Props != PropRead|PropWrite|PropNotify || d.ValueHandle != 3 || d.UUID.String() != "226CAA55-6476-4566-7562-66734470666D" {
		t.Errorf("%+v %v", d, d.Props)
	}
	if got := d.Append(nil); !bytes.Equal(got, h("1a 0300 6d667044736662756645766455aa6c22")) {
		t.Errorf("append % x", got)
	}
	if _, err := ParseCharDecl(h("02 0300 00")); err == nil {
		t.Error("short declaration accepted")
	}
}

func BenchmarkDecodeNotification(b *testing.B) {
	pdu := h("1b 0300 37 00 16")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(pdu); err != nil {
			b.Fatal(err)
		}
	}
}
