package modbus

import (
	"bytes"
	"errors"
	"testing"
)

func TestReadRoundTrip(t *testing.T) {
	req, err := AppendRead(nil, ReadHoldingRegisters, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRequest(req)
	if err != nil || r.Address != 10 || r.Quantity != 3 {
		t.Fatalf("ParseRequest: %+v %v", r, err)
	}
	resp := AppendRegistersResponse(nil, ReadHoldingRegisters, []uint16{1, 0xFFFF, 3})
	regs, err := ParseRegisters(nil, req, resp)
	if err != nil || len(regs) != 3 || regs[1] != 0xFFFF {
		t.Fatalf("ParseRegisters: %v %v", regs, err)
	}
	// A truncated or padded response is malformed.
	for _, bad := range [][]byte{resp[:len(resp)-1], append(append([]byte(nil), resp...), 0), {3, 5, 0, 1, 0, 2, 0}, {4, 6, 0, 1, 0, 2, 0, 3}} {
		if _, err := ParseRegisters(nil, req, bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRegisters(% X) err %v", bad, err)
		}
	}
	var ex *Exception
	if _, err := ParseRegisters(nil, req, []byte{0x83, 2}); !errors.As(err, &ex) || ex.Code != IllegalDataAddress {
		t.Errorf("exception: %v", err)
	}

	req, _ = AppendRead(nil, ReadCoils, 0, 10)
	bits := []bool{true, false, true, true, false, false, false, true, true, false}
	resp = AppendBitsResponse(nil, ReadCoils, bits)
	if !bytes.Equal(resp, []byte{1, 2, 0x8D, 0x01}) {
		t.Fatalf("AppendBitsResponse = % X", resp)
	}
	got, err := ParseBits(nil, req, resp)
	if err != nil || len(got) != 10 {
		t.Fatalf("ParseBits: %v %v", got, err)
	}
	for i := range bits {
		if got[i] != bits[i] {
			t.Fatalf("bit %d", i)
		}
	}
	if _, err := ParseBits(nil, req, []byte{1, 1, 0x8D}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short coils accepted: %v", err)
	}
}

func TestReadLimits(t *testing.T) {
	for _, c := range []struct {
		fc  byte
		qty uint16
		ok  bool
	}{{3, 125, true}, {3, 126, false}, {1, 2000, true}, {1, 2001, false}, {4, 0, false}, {5, 1, false}} {
		if _, err := AppendRead(nil, c.fc, 0, c.qty); (err == nil) != c.ok {
			t.Errorf("AppendRead(%d, %d): %v", c.fc, c.qty, err)
		}
	}
	if _, err := AppendRead(nil, 3, 65535, 2); err == nil {
		t.Error("read past 65535 accepted")
	}
	if _, err := AppendWriteMultipleRegisters(nil, 0, make([]uint16, 124)); err == nil {
		t.Error("124 registers accepted")
	}
	if _, err := AppendWriteMultipleCoils(nil, 0, make([]bool, 1969)); err == nil {
		t.Error("1969 coils accepted")
	}
}

func TestWrites(t *testing.T) {
	for _, c := range []struct {
		req  []byte
		want []byte
	}{
		{AppendWriteSingleCoil(nil, 0xAC, true), []byte{5, 0, 0xAC, 0xFF, 0}},
		{AppendWriteSingleRegister(nil, 1, 3), []byte{6, 0, 1, 0, 3}},
		{must(AppendWriteMultipleCoils(nil, 19, []bool{true, false, true, true, false, false, true, true, true, false})), []byte{15, 0, 19, 0, 10, 2, 0xCD, 0x01}},
		{must(AppendWriteMultipleRegisters(nil, 1, []uint16{0x000A, 0x0102})), []byte{16, 0, 1, 0, 2, 4, 0, 0x0A, 1, 2}},
	} {
		if !bytes.Equal(c.req, c.want) {
			t.Errorf("request % X, want % X", c.req, c.want)
		}
		r, err := ParseRequest(c.req)
		if err != nil {
			t.Fatalf("ParseRequest(% X): %v", c.req, err)
		}
		resp := AppendWriteResponse(nil, r)
		if err := CheckWrite(c.req, resp); err != nil {
			t.Errorf("CheckWrite(% X, % X): %v", c.req, resp, err)
		}
	}
	req := AppendWriteSingleRegister(nil, 1, 3)
	if err := CheckWrite(req, []byte{6, 0, 1, 0, 4}); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong echo accepted: %v", err)
	}
	if err := CheckWrite(req, []byte{3, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong function accepted: %v", err)
	}
}

func TestParseRequestRefusals(t *testing.T) {
	for _, c := range []struct {
		pdu  []byte
		code byte
	}{
		{[]byte{0x41}, IllegalFunction},
		{[]byte{3, 0, 0, 0, 126}, IllegalDataValue},
		{[]byte{3, 0, 0, 0}, IllegalDataValue},
		{[]byte{5, 0, 0, 0x12, 0x34}, IllegalDataValue},
		{[]byte{16, 0, 0, 0, 2, 3, 0, 0, 0}, IllegalDataValue},
		{[]byte{3, 0xFF, 0xFF, 0, 2}, IllegalDataAddress},
	} {
		_, err := ParseRequest(c.pdu)
		var ex *Exception
		if !errors.As(err, &ex) || ex.Code != c.code {
			t.Errorf("ParseRequest(% X) = %v, want code %d", c.pdu, err, c.code)
		}
	}
}

func TestDeviceID(t *testing.T) {
	objs := [][]byte{[]byte("tbgw"), []byte("GW1"), []byte("1.0"), nil, []byte("Gateway")}
	r, err := ParseRequest([]byte{43, 14, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := AppendDeviceIDResponse(nil, r, objs)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ResponseLen(resp); err != nil || n != len(resp) {
		t.Fatalf("ResponseLen = %d %v, len %d", n, err, len(resp))
	}
	m, err := ParseDeviceID(resp)
	if err != nil || m[0] != "tbgw" || m[2] != "1.0" || len(m) != 3 {
		t.Fatalf("ParseDeviceID: %v %v", m, err)
	}
	r.ReadDevID = 2
	resp, _ = AppendDeviceIDResponse(nil, r, objs)
	if m, _ := ParseDeviceID(resp); m[4] != "Gateway" || len(m) != 4 {
		t.Fatalf("regular: %v", m)
	}
	r.ReadDevID, r.ObjectID = 4, 3
	if _, err := AppendDeviceIDResponse(nil, r, objs); err == nil {
		t.Fatal("missing object accepted")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
