package bttest

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// HCI opcodes and LE meta subevents the monitor decodes.
const (
	OpLESetScanParams    = 0x200B
	OpLESetScanEnable    = 0x200C
	OpLESetExtScanParams = 0x2041
	OpLESetExtScanEnable = 0x2042

	leAdvReport    = 0x02
	leExtAdvReport = 0x0D
)

// HCICommand is one HCI command a controller was sent, as the kernel's
// monitor channel (what btmon reads) showed it.
type HCICommand struct {
	At     time.Time
	Index  uint16
	Opcode uint16
	Params []byte
}

// HCIMonitor records, for every controller, the HCI commands sent and the
// LE advertising reports received, from the kernel's monitor channel.
// It needs CAP_NET_RAW and stops when the test ends.
type HCIMonitor struct {
	mu       sync.Mutex
	cmds     []HCICommand
	scanRsps map[uint16]int // LE advertising reports of type scan response per controller
	reports  map[uint16]int
	trace    []Frame // commands, events other than advertising reports, ACL data
}

// Frame is one HCI packet of a controller, as the monitor channel showed
// it: Kind is "cmd" (to the controller), "evt" (from it), "acl>" (ACL
// data sent) or "acl<" (received).
type Frame struct {
	At    time.Time
	Index uint16
	Kind  string
	Data  []byte // the packet without its HCI header
}

// String formats a frame as one line of a trace.
func (f Frame) String() string {
	return fmt.Sprintf("%s hci%d %-4s % x", f.At.Format("15:04:05.000000"), f.Index, f.Kind, f.Data)
}

const maxTrace = 4096

// Monitor starts an HCIMonitor.
func Monitor(t testing.TB) *HCIMonitor {
	t.Helper()
	fd, err := unix.Socket(unix.AF_BLUETOOTH, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.BTPROTO_HCI)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrHCI{Dev: 0xFFFF, Channel: unix.HCI_CHANNEL_MONITOR}); err != nil {
		unix.Close(fd)
		t.Fatalf("bind HCI monitor channel: %v", err)
	}
	f := os.NewFile(uintptr(fd), "hci-monitor")
	m := &HCIMonitor{scanRsps: map[uint16]int{}, reports: map[uint16]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			m.record(buf[:n])
		}
	}()
	t.Cleanup(func() {
		f.Close()
		<-done
	})
	return m
}

// record decodes one monitor frame: opcode, controller index, length,
// then the packet (2: a command, 3: an event).
func (m *HCIMonitor) record(b []byte) {
	if len(b) < 6 || int(binary.LittleEndian.Uint16(b[4:])) != len(b)-6 {
		return
	}
	op, idx, p := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), b[6:]
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case op == 2 && len(p) >= 3 && len(p) == 3+int(p[2]):
		m.cmds = append(m.cmds, HCICommand{At: time.Now(), Index: idx, Opcode: binary.LittleEndian.Uint16(p), Params: append([]byte(nil), p[3:]...)})
		m.keep(idx, "cmd", p)
	case op == 3 && len(p) >= 4 && p[0] == 0x3E && (p[2] == leAdvReport || p[2] == leExtAdvReport):
		m.advReports(idx, p[2], p[3:])
	case op == 3:
		m.keep(idx, "evt", p)
	case op == 4:
		m.keep(idx, "acl>", p)
	case op == 5:
		m.keep(idx, "acl<", p)
	}
}

func (m *HCIMonitor) keep(idx uint16, kind string, p []byte) {
	if len(m.trace) < maxTrace {
		m.trace = append(m.trace, Frame{At: time.Now(), Index: idx, Kind: kind, Data: append([]byte(nil), p...)})
	}
}

// Trace returns the commands, events (other than advertising reports) and
// ACL packets of the given controllers (all with none), in order; at most
// the first 4096 of them are kept.
func (m *HCIMonitor) Trace(index ...int) []Frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Frame
	for _, f := range m.trace {
		if len(index) == 0 || slices.Contains(index, int(f.Index)) {
			out = append(out, f)
		}
	}
	return out
}

// Disconnects returns the reasons of the Disconnection Complete events
// controller index reported.
func (m *HCIMonitor) Disconnects(index int) []byte {
	var out []byte
	for _, f := range m.Trace(index) {
		// event 0x05: status, handle (2), reason
		if f.Kind == "evt" && len(f.Data) >= 6 && f.Data[0] == 0x05 {
			out = append(out, f.Data[5])
		}
	}
	return out
}

// advReports counts the reports of an LE (extended) advertising report
// event, and those that are scan responses.
func (m *HCIMonitor) advReports(idx uint16, sub byte, p []byte) {
	if len(p) < 1 {
		return
	}
	n, p := int(p[0]), p[1:]
	for range n {
		switch sub {
		case leAdvReport: // type, addr type, addr, length, data, rssi
			if len(p) < 9 || len(p) < 10+int(p[8]) {
				return
			}
			m.reports[idx]++
			if p[0] == 0x04 {
				m.scanRsps[idx]++
			}
			p = p[10+int(p[8]):]
		case leExtAdvReport: // type (2), ..., length at 23, data
			if len(p) < 24 || len(p) < 24+int(p[23]) {
				return
			}
			m.reports[idx]++
			if binary.LittleEndian.Uint16(p)&0x08 != 0 {
				m.scanRsps[idx]++
			}
			p = p[24+int(p[23]):]
		default:
			return
		}
	}
}

// Commands returns the commands controller index was sent with one of
// the opcodes.
func (m *HCIMonitor) Commands(index int, opcodes ...uint16) []HCICommand {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []HCICommand
	for _, c := range m.cmds {
		if int(c.Index) != index {
			continue
		}
		for _, op := range opcodes {
			if c.Opcode == op {
				out = append(out, c)
			}
		}
	}
	return out
}

// Reports returns how many LE advertising reports controller index
// received, and how many of them were scan responses.
func (m *HCIMonitor) Reports(index int) (reports, scanResponses int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reports[uint16(index)], m.scanRsps[uint16(index)]
}

// WaitReports is Reports once the monitor has read at least n advertising
// reports of controller index, or when d has passed: a report can reach a
// scanner through the management socket before the monitor socket's
// reader has recorded its HCI event.
func (m *HCIMonitor) WaitReports(index, n int, d time.Duration) (reports, scanResponses int) {
	deadline := time.Now().Add(d)
	for {
		r, s := m.Reports(index)
		if r >= n || time.Now().After(deadline) {
			return r, s
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ScanType is the scan type (0 passive, 1 active) of an LE Set (Extended)
// Scan Parameters command, and false for other commands.
func ScanType(c HCICommand) (byte, bool) {
	switch {
	case c.Opcode == OpLESetScanParams && len(c.Params) >= 1:
		return c.Params[0], true
	case c.Opcode == OpLESetExtScanParams && len(c.Params) >= 4:
		return c.Params[3], true // own address type, filter policy, PHYs, then the first PHY's type
	}
	return 0, false
}

// ScanEnable tells whether an LE Set (Extended) Scan Enable command
// enables scanning.
func ScanEnable(c HCICommand) bool { return len(c.Params) >= 1 && c.Params[0] == 1 }
