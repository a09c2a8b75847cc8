package modbus

import (
	"bytes"
	"errors"
	"testing"
)

func TestCRC16(t *testing.T) {
	// The classic example of the Modbus over serial line specification.
	if got := CRC16([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}); got != 0xCDC5 {
		t.Fatalf("CRC16 = %04X, want CDC5", got)
	}
	adu := AppendRTU(nil, 1, []byte{0x03, 0x00, 0x00, 0x00, 0x0A})
	if want := []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}; !bytes.Equal(adu, want) {
		t.Fatalf("AppendRTU = % X, want % X", adu, want)
	}
	unit, pdu, err := ParseRTU(adu)
	if err != nil || unit != 1 || !bytes.Equal(pdu, adu[1:6]) {
		t.Fatalf("ParseRTU: %d % X %v", unit, pdu, err)
	}
	adu[3] ^= 1
	if _, _, err := ParseRTU(adu); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad CRC accepted: %v", err)
	}
}

func TestASCII(t *testing.T) {
	adu := AppendASCII(nil, 1, []byte{0x03, 0x00, 0x00, 0x00, 0x01})
	if string(adu) != ":010300000001FB\r\n" {
		t.Fatalf("AppendASCII = %q", adu)
	}
	unit, pdu, err := ParseASCII([]byte(":010300000001fb\r\n"))
	if err != nil || unit != 1 || !bytes.Equal(pdu, []byte{3, 0, 0, 0, 1}) {
		t.Fatalf("ParseASCII: %d % X %v", unit, pdu, err)
	}
	for _, bad := range []string{":010300000001FC\r\n", ":01030000001FB\r\n", "010300000001FB\r\n", ":0103000000G1FB\r\n", ":01\r\n"} {
		if _, _, err := ParseASCII([]byte(bad)); err == nil {
			t.Errorf("ParseASCII(%q) accepted", bad)
		}
	}
}

func TestMBAP(t *testing.T) {
	adu := AppendMBAP(nil, 0x1234, 7, []byte{3, 0, 1, 0, 2})
	if want := []byte{0x12, 0x34, 0, 0, 0, 6, 7, 3, 0, 1, 0, 2}; !bytes.Equal(adu, want) {
		t.Fatalf("AppendMBAP = % X", adu)
	}
	if n, err := MBAPLen(adu[:6]); n != len(adu) || err != nil {
		t.Fatalf("MBAPLen = %d %v", n, err)
	}
	if n, _ := MBAPLen(adu[:5]); n != 0 {
		t.Fatalf("MBAPLen of 5 bytes = %d", n)
	}
	tid, unit, pdu, err := ParseMBAP(adu)
	if err != nil || tid != 0x1234 || unit != 7 || !bytes.Equal(pdu, adu[7:]) {
		t.Fatalf("ParseMBAP: %x %d % X %v", tid, unit, pdu, err)
	}
	for _, bad := range [][]byte{{0, 1, 0, 1, 0, 2, 1, 3}, {0, 1, 0, 0, 0, 1, 1}, {0, 1, 0, 0, 1, 0, 1}} {
		if _, _, _, err := ParseMBAP(bad); err == nil {
			t.Errorf("ParseMBAP(% X) accepted", bad)
		}
	}
}

func TestFrameLengths(t *testing.T) {
	for _, c := range []struct {
		resp []byte
		want int
	}{
		{[]byte{1, 3, 2, 0}, 1 + 2 + 2 + 2},              // FC3 with 2 data bytes: unit fc bc d d crc crc
		{[]byte{1, 0x83, 2}, 1 + 2 + 2},                  // exception
		{[]byte{1, 6, 0, 1}, 1 + 5 + 2},                  // write single register echo
		{[]byte{1, 16, 0, 1}, 1 + 5 + 2},                 // write multiple registers
		{[]byte{1, 43, 14, 1, 0x82, 0, 0, 0}, 1 + 7 + 2}, // empty device id
	} {
		full := append(append([]byte(nil), c.resp...), make([]byte, 16)...)
		full[3] = c.resp[min(3, len(c.resp)-1)]
		if c.resp[1] == 3 {
			full[2] = 2
		}
		n, err := RTUResponseLen(full)
		if err != nil || n != c.want {
			t.Errorf("RTUResponseLen(% X) = %d %v, want %d", c.resp, n, err, c.want)
		}
	}
	if n, _ := RTUResponseLen([]byte{1}); n != 0 {
		t.Errorf("RTUResponseLen of 1 byte = %d", n)
	}
	if _, err := RTUResponseLen([]byte{1, 0x41, 0}); err == nil {
		t.Error("unknown function accepted")
	}
	req, _ := AppendWriteMultipleRegisters(nil, 1, []uint16{1, 2})
	if n, _ := RTURequestLen(AppendRTU(nil, 1, req)); n != 1+len(req)+2 {
		t.Errorf("RTURequestLen = %d", n)
	}
	if n, _ := RTURequestLen([]byte{1, 16, 0, 1, 0}); n != 0 {
		t.Errorf("RTURequestLen short = %d", n)
	}
}
