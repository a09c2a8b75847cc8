package bluetooth

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Management (mgmt) API opcodes and events used here; see the kernel's
// doc/mgmt-api.txt in BlueZ.
const (
	mgmtReadIndexList   = 0x0003
	mgmtReadInfo        = 0x0004
	mgmtSetPowered      = 0x0005
	mgmtSetConnectable  = 0x0007
	mgmtSetLE           = 0x000D
	mgmtStartDiscovery  = 0x0023
	mgmtStopDiscovery   = 0x0024
	mgmtSetStaticAddr   = 0x002B
	mgmtAddAdvertising  = 0x003E
	mgmtRemoveAdv       = 0x003F
	mgmtReadLocalOOBExt = 0x003B
	mgmtSetPrivacy      = 0x002F

	mgmtAddAdvPatternsMonitor = 0x0052
	mgmtRemoveAdvMonitor      = 0x0053

	evCmdComplete  = 0x0001
	evCmdStatus    = 0x0002
	evIndexRemoved = 0x0005
	evConnected    = 0x000B
	evDisconnected = 0x000C
	evDeviceFound  = 0x0012
	evDiscovering  = 0x0013

	evAdvMonitorAdded       = 0x002B
	evAdvMonitorRemoved     = 0x002C
	evAdvMonitorDeviceFound = 0x002F

	noIndex = 0xFFFF

	// Address type masks for Start Discovery.
	scanLE = 1<<Public | 1<<Random
)

// Settings are a controller's mgmt settings bits.
type Settings uint32

// Settings bits.
const (
	SettingPowered     Settings = 1 << 0
	SettingConnectable Settings = 1 << 1
	SettingLE          Settings = 1 << 9
	SettingAdvertising Settings = 1 << 10
	SettingPrivacy     Settings = 1 << 13
	// SettingStaticAddress: the controller's LE identity is its static
	// random address, not its public one.
	SettingStaticAddress Settings = 1 << 15
)

// MgmtError is a failed mgmt command.
type MgmtError struct {
	Op     uint16
	Status uint8
}

var mgmtStatus = []string{"success", "unknown command", "not connected", "failed", "connect failed",
	"authentication failed", "not paired", "no resources", "timeout", "already connected", "busy",
	"rejected", "not supported", "invalid parameters", "disconnected", "not powered", "cancelled",
	"invalid index", "rfkilled", "already paired", "permission denied"}

func (e *MgmtError) Error() string {
	s := fmt.Sprintf("status 0x%02x", e.Status)
	if int(e.Status) < len(mgmtStatus) {
		s = mgmtStatus[e.Status]
	}
	return fmt.Sprintf("mgmt command 0x%04x: %s", e.Op, s)
}

// ErrBusy: another party (bluetoothd, another scan) holds the resource.
var ErrBusy = errors.New("busy")

// Is matches ErrBusy, and errors.ErrUnsupported for a command the kernel
// does not know or the controller does not support.
func (e *MgmtError) Is(target error) bool {
	switch target {
	case ErrBusy:
		return e.Status == 0x0A
	case errors.ErrUnsupported:
		return e.Status == 0x01 || e.Status == 0x0C
	}
	return false
}

// mgmtFrame encodes a command.
func mgmtFrame(op, index uint16, params []byte) []byte {
	b := make([]byte, 6, 6+len(params))
	binary.LittleEndian.PutUint16(b, op)
	binary.LittleEndian.PutUint16(b[2:], index)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(params)))
	return append(b, params...)
}

// mgmtEvent is a decoded event header.
type mgmtEvent struct {
	Code, Index uint16
	Params      []byte
}

func parseMgmtEvent(b []byte) (mgmtEvent, error) {
	if len(b) < 6 {
		return mgmtEvent{}, fmt.Errorf("mgmt event of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	if len(b)-6 != n {
		return mgmtEvent{}, fmt.Errorf("mgmt event 0x%04x: length %d, %d bytes follow", binary.LittleEndian.Uint16(b), n, len(b)-6)
	}
	return mgmtEvent{Code: binary.LittleEndian.Uint16(b), Index: binary.LittleEndian.Uint16(b[2:]), Params: b[6:]}, nil
}

// cmdResult matches a Command Complete/Status event to op: done is false
// for other events.
func (ev mgmtEvent) cmdResult(op uint16) (rsp []byte, done bool, err error) {
	if (ev.Code != evCmdComplete && ev.Code != evCmdStatus) || len(ev.Params) < 3 ||
		binary.LittleEndian.Uint16(ev.Params) != op {
		return nil, false, nil
	}
	if st := ev.Params[2]; st != 0 {
		return nil, true, &MgmtError{Op: op, Status: st}
	}
	return ev.Params[3:], true, nil
}

// Found is one advertising report (mgmt Device Found).
type Found struct {
	Addr     Addr
	AddrType AddrType
	RSSI     int8
	Flags    uint32
	Data     []byte // advertising data followed by scan response data
}

func parseFound(p []byte) (Found, error) {
	if len(p) < 14 {
		return Found{}, fmt.Errorf("device found event of %d bytes", len(p))
	}
	n := int(binary.LittleEndian.Uint16(p[12:]))
	if len(p)-14 != n {
		return Found{}, fmt.Errorf("device found event: data length %d, %d bytes follow", n, len(p)-14)
	}
	return Found{
		Addr: addrFromWire(p), AddrType: AddrType(p[6]), RSSI: int8(p[7]),
		Flags: binary.LittleEndian.Uint32(p[8:]), Data: append([]byte(nil), p[14:]...),
	}, nil
}

// Info is what Read Controller Information returns.
type Info struct {
	Index     uint16
	Addr      Addr
	Supported Settings
	Current   Settings
	Name      string
}

func parseInfo(index uint16, p []byte) (Info, error) {
	if len(p) < 20 {
		return Info{}, fmt.Errorf("controller information of %d bytes", len(p))
	}
	name := p[20:]
	if len(name) > 249 {
		name = name[:249]
	}
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return Info{
		Index: index, Addr: addrFromWire(p), Supported: Settings(binary.LittleEndian.Uint32(p[9:])),
		Current: Settings(binary.LittleEndian.Uint32(p[13:])), Name: string(name),
	}, nil
}

// parseMonitorFound decodes Adv Monitor Device Found: a monitor handle,
// then the fields of Device Found.
func parseMonitorFound(p []byte) (uint16, Found, error) {
	if len(p) < 2 {
		return 0, Found{}, fmt.Errorf("monitor device found event of %d bytes", len(p))
	}
	f, err := parseFound(p[2:])
	return binary.LittleEndian.Uint16(p), f, err
}

// monitorADTypes are the AD types of the passive scanner's monitor
// patterns: flags, 16- and 128-bit service UUIDs, names, service data,
// manufacturer data. A monitor needs at least one pattern; the kernel
// itself does not match them (every advertisement is reported), but a
// controller that offloads monitors (the Microsoft HCI extension) does:
// empty patterns of these types ask it for any advertisement that
// carries one of them.
var monitorADTypes = []byte{0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x16, 0xFF}

// monitorParams encodes Add Adv Patterns Monitor: a count, then per
// pattern its AD type, offset, length and 31 value bytes.
func monitorParams() []byte {
	b := []byte{byte(len(monitorADTypes))}
	for _, t := range monitorADTypes {
		b = append(b, t, 0, 0)
		b = append(b, make([]byte, 31)...)
	}
	return b
}

// parseOOBAddr finds the LE Bluetooth Device Address (EIR type 0x1B: six
// address bytes, then 0 for public or 1 for random) in a Read Local Out Of
// Band Extended Data response: address types, EIR length, EIR data.
func parseOOBAddr(p []byte) (Addr, AddrType, error) {
	if len(p) < 3 || len(p)-3 != int(binary.LittleEndian.Uint16(p[1:])) {
		return Addr{}, 0, fmt.Errorf("local out of band data of %d bytes", len(p))
	}
	for eir := p[3:]; len(eir) > 0; {
		n := int(eir[0])
		if n == 0 || len(eir) < 1+n {
			break
		}
		if eir[1] == 0x1B && n == 8 {
			t := Public
			if eir[8] == 1 {
				t = Random
			}
			return addrFromWire(eir[2:8]), t, nil
		}
		eir = eir[1+n:]
	}
	return Addr{}, 0, errors.New("local out of band data without an LE address")
}
