package bluetooth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Adapter is one local controller, driven through the kernel's management
// interface.
type Adapter struct {
	Info
	mu  sync.Mutex // one command at a time on ctl
	ctl *sock

	// Refresh, if set, makes Scan end each discovery round after this
	// long (at least a second) instead of the kernel's ~10 s. Controllers
	// filter duplicate reports within a round, so a beacon's changing
	// data is seen at most once per round.
	Refresh time.Duration

	// Passive makes Scan listen without sending scan requests (see
	// Scan); otherwise it runs the kernel's (active) discovery.
	Passive bool

	// Window and Period: with 0 < Window < Period, Scan scans for Window
	// out of every Period and leaves the radio alone in between.
	// Otherwise it scans continuously.
	Window, Period time.Duration

	// Discovery rounds Scan started, starts refused as busy, and
	// advertisement monitors (passive scanning) registered.
	Rounds, Busy, Monitors atomic.Uint64
}

// OpenAdapter opens controller index (hciN), or with index < 0 the first
// controller that supports LE.
func OpenAdapter(ctx context.Context, index int) (*Adapter, error) {
	ctl, err := mgmtSock()
	if err != nil {
		return nil, err
	}
	a := &Adapter{ctl: ctl}
	if err := a.open(ctx, index); err != nil {
		ctl.Close()
		return nil, err
	}
	return a, nil
}

func (a *Adapter) open(ctx context.Context, index int) error {
	rsp, err := a.cmd(ctx, mgmtReadIndexList, noIndex, nil)
	if err != nil {
		return err
	}
	if len(rsp) < 2 || len(rsp) < 2+2*int(binary.LittleEndian.Uint16(rsp)) {
		return fmt.Errorf("controller index list of %d bytes", len(rsp))
	}
	n := int(binary.LittleEndian.Uint16(rsp))
	idxs := make([]int, n)
	for i := range idxs {
		idxs[i] = int(binary.LittleEndian.Uint16(rsp[2+2*i:]))
	}
	slices.Sort(idxs) // the kernel lists newest first; pick the lowest hciN
	for _, i := range idxs {
		idx := uint16(i)
		if index >= 0 && int(idx) != index {
			continue
		}
		r, err := a.cmd(ctx, mgmtReadInfo, idx, nil)
		if err != nil {
			return err
		}
		info, err := parseInfo(idx, r)
		if err != nil {
			return err
		}
		if info.Supported&SettingLE == 0 {
			if index >= 0 {
				return fmt.Errorf("hci%d does not support Bluetooth LE", idx)
			}
			continue
		}
		a.Info = info
		return nil
	}
	if index >= 0 {
		return fmt.Errorf("no controller hci%d (%d controllers)", index, n)
	}
	return fmt.Errorf("no Bluetooth LE controller (%d controllers)", n)
}

// Controllers lists the controller indexes (hciN) the kernel knows, sorted.
func Controllers(ctx context.Context) ([]int, error) {
	ctl, err := mgmtSock()
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	a := &Adapter{ctl: ctl}
	rsp, err := a.cmd(ctx, mgmtReadIndexList, noIndex, nil)
	if err != nil {
		return nil, err
	}
	if len(rsp) < 2 || len(rsp) < 2+2*int(binary.LittleEndian.Uint16(rsp)) {
		return nil, fmt.Errorf("controller index list of %d bytes", len(rsp))
	}
	idxs := make([]int, binary.LittleEndian.Uint16(rsp))
	for i := range idxs {
		idxs[i] = int(binary.LittleEndian.Uint16(rsp[2+2*i:]))
	}
	slices.Sort(idxs)
	return idxs, nil
}

// Close closes the management socket.
func (a *Adapter) Close() error { return a.ctl.Close() }

func (a *Adapter) String() string { return fmt.Sprintf("hci%d (%v)", a.Index, a.Addr) }

// cmd sends a command and waits for its result, skipping other events.
func (a *Adapter) cmd(ctx context.Context, op, index uint16, params []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	// A command the kernel refuses before its handler runs (unknown,
	// malformed, not allowed) is "written" as 0 bytes, which the os
	// package reports as an unexpected EOF; the reason follows as a
	// Command Status event.
	if err := a.ctl.write(ctx, mgmtFrame(op, index, params)); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("mgmt command 0x%04x: %w", op, err)
	}
	buf := make([]byte, 1024)
	for {
		n, err := a.ctl.read(ctx, buf)
		if err != nil {
			return nil, fmt.Errorf("mgmt command 0x%04x: %w", op, err)
		}
		ev, err := parseMgmtEvent(buf[:n])
		if err != nil || ev.Index != index {
			continue
		}
		if rsp, done, err := ev.cmdResult(op); done {
			return append([]byte(nil), rsp...), err
		}
	}
}

func (a *Adapter) setting(ctx context.Context, op uint16, on bool) error {
	v := byte(0)
	if on {
		v = 1
	}
	rsp, err := a.cmd(ctx, op, a.Index, []byte{v})
	if err == nil && len(rsp) >= 4 {
		a.Current = Settings(binary.LittleEndian.Uint32(rsp))
	}
	return err
}

// PowerOn enables LE and powers the controller on, if needed. A system
// without bluetoothd leaves controllers powered off; with bluetoothd
// running they usually are on already and nothing changes.
func (a *Adapter) PowerOn(ctx context.Context) error {
	r, err := a.cmd(ctx, mgmtReadInfo, a.Index, nil)
	if err != nil {
		return err
	}
	if a.Info, err = parseInfo(a.Index, r); err != nil {
		return err
	}
	if a.Current&SettingLE == 0 {
		if err := a.setting(ctx, mgmtSetLE, true); err != nil {
			return fmt.Errorf("%v: enable LE: %w", a, err)
		}
	}
	if a.Current&SettingPowered == 0 {
		if err := a.setting(ctx, mgmtSetPowered, true); err != nil {
			return fmt.Errorf("%v: power on: %w", a, err)
		}
	}
	return nil
}

// SetStaticAddress sets the controller's static random address, which an
// LE-only controller then uses as its identity (advertising and
// connections); the zero Addr clears it. The controller must be powered
// off. It is for test peripherals and beacons built on this package.
func (a *Adapter) SetStaticAddress(ctx context.Context, addr Addr) error {
	if addr != (Addr{}) && addr[0]&0xC0 != 0xC0 {
		return fmt.Errorf("%v is not a static random address (the two top bits must be set)", addr)
	}
	if _, err := a.cmd(ctx, mgmtSetStaticAddr, a.Index, addr.wire()); err != nil {
		return fmt.Errorf("%v: set static address: %w", a, err)
	}
	staticAddrs.Store(a.Index, addr)
	return nil
}

// Identity returns the controller's LE identity address: its public
// address, or its static random address when it uses one (an LE-only
// controller given one with SetStaticAddress or by bluetoothd, or a
// controller without a public address). The kernel offers no way to read
// a static address back: the one this process set (SetStaticAddress) is
// known, otherwise it is read with Read Local Out Of Band Extended Data,
// which the kernel only answers for controllers that also do BR/EDR
// (since Linux 5.15), while powered and without LE privacy. Failing that,
// the zero address (any) of type random is returned: a listener bound to
// it gets links of every controller whose identity is random, and a
// connection from it is routed by the kernel to the first powered
// controller.
func (a *Adapter) Identity(ctx context.Context) (Addr, AddrType, error) {
	r, err := a.cmd(ctx, mgmtReadInfo, a.Index, nil)
	if err != nil {
		return Addr{}, 0, err
	}
	// Not stored in a.Info: connections of several devices ask at once.
	info, err := parseInfo(a.Index, r)
	if err != nil {
		return Addr{}, 0, err
	}
	if info.Current&SettingStaticAddress == 0 {
		return info.Addr, Public, nil
	}
	if v, ok := staticAddrs.Load(a.Index); ok {
		return v.(Addr), Random, nil
	}
	if info.Current&SettingPrivacy == 0 {
		r, err := a.cmd(ctx, mgmtReadLocalOOBExt, a.Index, []byte{scanLE})
		if err == nil {
			if addr, typ, err := parseOOBAddr(r); err == nil {
				return addr, typ, nil
			}
		}
	}
	return Addr{}, Random, nil
}

// SetPrivacy turns LE privacy on with the identity resolving key irk:
// the controller then advertises and connects with resolvable private
// addresses generated from irk, which the kernel renews every 15
// minutes. The controller must be powered off. It is for test
// peripherals built on this package.
func (a *Adapter) SetPrivacy(ctx context.Context, irk [16]byte) error {
	if _, err := a.cmd(ctx, mgmtSetPrivacy, a.Index, append([]byte{1}, irk[:]...)); err != nil {
		return fmt.Errorf("%v: set privacy: %w", a, err)
	}
	return nil
}

// staticAddrs are the static addresses SetStaticAddress set, by
// controller index.
var staticAddrs sync.Map

// Advertise registers advertising instance (1..) with the given data;
// connectable makes it accept connections. It is for test peripherals and
// beacons built on this package.
func (a *Adapter) Advertise(ctx context.Context, instance uint8, data, scanRsp []byte, connectable bool) error {
	flags := uint32(0x02) // general discoverable: the kernel adds the Flags structure
	if connectable {
		flags |= 0x01
	}
	p := []byte{instance}
	p = binary.LittleEndian.AppendUint32(p, flags)
	p = append(p, 0, 0, 0, 0, byte(len(data)), byte(len(scanRsp)))
	p = append(append(p, data...), scanRsp...)
	_, err := a.cmd(ctx, mgmtAddAdvertising, a.Index, p)
	if err != nil {
		return fmt.Errorf("%v: add advertising: %w", a, err)
	}
	return nil
}

// StopAdvertising removes an advertising instance.
func (a *Adapter) StopAdvertising(ctx context.Context, instance uint8) error {
	_, err := a.cmd(ctx, mgmtRemoveAdv, a.Index, []byte{instance})
	return err
}
