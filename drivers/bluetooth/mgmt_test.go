package bluetooth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestAddr(t *testing.T) {
	a, err := ParseAddr("4c:65:A8:DF:85:C0")
	if err != nil || a.String() != "4C:65:A8:DF:85:C0" {
		t.Fatal(a, err)
	}
	if w := a.wire(); w[0] != 0xC0 || addrFromWire(w) != a {
		t.Fatalf("% x", w)
	}
	for _, bad := range []string{"", "4C:65:A8:DF:85", "4C:65:A8:DF:85:C0:00", "4C:65:A8:DF:85:CG", "4C65A8DF85C0", "4C:65:A8:DF:8:5C0"} {
		if _, err := ParseAddr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Frames as the kernel sends them (recorded from btmon on the rig).
func TestMgmtEvents(t *testing.T) {
	ev, err := parseMgmtEvent(hx("0100 0000 0700 0500 00 01020000"))
	if err != nil || ev.Code != evCmdComplete {
		t.Fatal(ev, err)
	}
	if rsp, done, err := ev.cmdResult(mgmtSetPowered); !done || err != nil || len(rsp) != 4 {
		t.Fatal(rsp, done, err)
	}
	ev, _ = parseMgmtEvent(hx("0200 0000 0300 2300 0a"))
	if _, done, err := ev.cmdResult(mgmtStartDiscovery); !done || !errors.Is(err, ErrBusy) {
		t.Fatalf("busy: %v", err)
	}
	ev, err = parseMgmtEvent(hx("1200 0000 1300 010001 01aa00 01 7f 00000000 0500 04ff590001"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFound(ev.Params)
	if err != nil || f.Addr.String() != "00:AA:01:01:00:01" || f.AddrType != Public || f.RSSI != 127 || len(f.Data) != 5 {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{"0100", "0100 0000 0500 00", "1200 0000 0000"} {
		if ev, err := parseMgmtEvent(hx(bad)); err == nil {
			if _, err := parseFound(ev.Params); err == nil {
				t.Errorf("%s accepted", bad)
			}
		}
	}
}

// Passive scanning: the monitor's parameters and its reports.
func TestMonitor(t *testing.T) {
	p := monitorParams()
	if int(p[0]) != len(monitorADTypes) || len(p) != 1+34*len(monitorADTypes) || p[1] != 0x01 || p[1+34*8] != 0xFF {
		t.Fatalf("monitor parameters % x", p)
	}
	// Adv Monitor Device Found, handle 0 (the kernel matched nothing
	// itself), then a Device Found body: LE public, RSSI -48.
	ev, err := parseMgmtEvent(hx("2f00 0000 1500 0000 010001 01aa00 01 d0 00000000 0500 04ff590001"))
	if err != nil || ev.Code != evAdvMonitorDeviceFound {
		t.Fatal(ev, err)
	}
	h, f, err := parseMonitorFound(ev.Params)
	if err != nil || h != 0 || f.Addr.String() != "00:AA:01:01:00:01" || f.AddrType != Public || f.RSSI != -48 ||
		!bytes.Equal(f.Data, hx("04ff590001")) {
		t.Fatal(h, f, err)
	}
	if _, _, err := parseMonitorFound(hx("00")); err == nil {
		t.Fatal("short event accepted")
	}
	if !errors.Is(&MgmtError{Op: mgmtAddAdvPatternsMonitor, Status: 0x01}, errors.ErrUnsupported) ||
		errors.Is(&MgmtError{Status: 0x03}, errors.ErrUnsupported) {
		t.Fatal("ErrUnsupported matching")
	}
}

// FuzzMgmt: management frames never panic the parsers.
func FuzzMgmt(f *testing.F) {
	f.Add(hx("1200 0000 1300 010001 01aa00 01 7f 00000000 0500 04ff590001"))
	f.Add(hx("0100 0000 0700 0500 00 01020000"))
	f.Add(hx("0100 0000 1900 0400 00 000001aa0000 09 0200 ff1b0100 00020000 000000 4142"))
	f.Add(hx("2f00 0000 1500 0000 010001 01aa00 01 d0 00000000 0500 04ff590001"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := parseMgmtEvent(b)
		if err != nil {
			return
		}
		_, _, _ = ev.cmdResult(mgmtReadInfo)
		_, _ = parseFound(ev.Params)
		_, _ = parseInfo(0, ev.Params)
		_, _, _ = parseMonitorFound(ev.Params)
		_, _, _ = parseOOBAddr(ev.Params)
	})
}

func TestParseOOBAddr(t *testing.T) {
	// LE types, 12 bytes of EIR: LE address (static, random), LE role.
	a, typ, err := parseOOBAddr(hx("06 0c00 08 1b 664433 2211c3 01 02 1c 00"))
	if err != nil || a.String() != "C3:11:22:33:44:66" || typ != Random {
		t.Fatal(a, typ, err)
	}
	a, typ, err = parseOOBAddr(hx("06 0900 08 1b 000001 01aa00 00"))
	if err != nil || a.String() != "00:AA:01:01:00:00" || typ != Public {
		t.Fatal(a, typ, err)
	}
	for _, bad := range []string{"", "06 0500 02 1c 00", "06 0900 08 1b 000001 01aa", "06 0300 00 1b 00", "06 0200 09 1b"} {
		if _, _, err := parseOOBAddr(hx(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
