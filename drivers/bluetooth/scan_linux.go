package bluetooth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Scan scans until ctx ends, calling fn for every advertising report of
// this controller; fn runs on Scan's goroutine.
//
// Active (the default) runs the kernel's LE discovery: the controller
// sends scan requests, so reports carry scan response data too. Passive
// registers an advertisement monitor instead: with a monitor and no
// discovery running, the kernel scans passively (no scan requests, no
// scan responses) and hands every advertisement to the management
// interface. While another party (bluetoothd) runs a discovery, the
// kernel scans actively for it and both modes see those reports.
//
// With 0 < Window < Period, scanning runs for Window at the start of
// every Period; in between, nothing of Scan's is registered with the
// kernel and one timer waits for the next window.
func (a *Adapter) Scan(ctx context.Context, fn func(Found)) error {
	window, period := a.Window, a.Period
	if window <= 0 || period <= window {
		return a.scanWindow(ctx, fn)
	}
	for {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, window)
		err := a.scanWindow(wctx, fn)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		t := time.NewTimer(time.Until(start.Add(period)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// scanWindow scans until ctx ends; an error caused by ctx's end is none.
func (a *Adapter) scanWindow(ctx context.Context, fn func(Found)) error {
	ev, err := mgmtSock()
	if err != nil {
		return err
	}
	defer ev.Close()
	if a.Passive {
		err = a.listenPassive(ctx, ev, fn)
	} else {
		err = a.discover(ctx, ev, fn)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// listenPassive scans through an advertisement monitor. The kernel
// (without a controller offload) does not match the monitor's patterns:
// every advertisement is reported, as Adv Monitor Device Found (Linux
// 5.18 and later) or Device Found (earlier). The monitor is removed when
// ctx ends, and added again if another program removed it.
func (a *Adapter) listenPassive(ctx context.Context, ev *sock, fn func(Found)) error {
	var handle uint16
	add := func() error {
		// Not cut short by ctx: a monitor the kernel added while the
		// answer went unread would stay registered, with nobody to
		// remove it, and keep the controller scanning passively (it
		// delayed a later active discovery's reports by seconds).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		rsp, err := a.cmd(actx, mgmtAddAdvPatternsMonitor, a.Index, monitorParams())
		cancel()
		if err != nil {
			return fmt.Errorf("%v: add advertisement monitor (passive scanning): %w", a, err)
		}
		if len(rsp) < 2 {
			return fmt.Errorf("%v: add advertisement monitor: answer of %d bytes", a, len(rsp))
		}
		handle = binary.LittleEndian.Uint16(rsp)
		a.Monitors.Add(1)
		return nil
	}
	if err := add(); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = a.cmd(sctx, mgmtRemoveAdvMonitor, a.Index, binary.LittleEndian.AppendUint16(nil, handle))
	}()
	buf := make([]byte, 1024)
	for {
		n, err := ev.read(ctx, buf)
		if err != nil {
			return fmt.Errorf("%v: read mgmt events: %w", a, err)
		}
		e, err := parseMgmtEvent(buf[:n])
		if err != nil || e.Index != a.Index {
			continue
		}
		switch e.Code {
		case evDeviceFound:
			if f, err := parseFound(e.Params); err == nil {
				fn(f)
			}
		case evAdvMonitorDeviceFound:
			if _, f, err := parseMonitorFound(e.Params); err == nil {
				fn(f)
			}
		case evAdvMonitorRemoved:
			if len(e.Params) >= 2 && binary.LittleEndian.Uint16(e.Params) == handle {
				if err := add(); err != nil {
					return err
				}
			}
		case evIndexRemoved:
			return fmt.Errorf("%v: controller removed", a)
		}
	}
}

// discover runs LE discovery until ctx ends. The kernel ends each discovery round after
// about ten seconds, and also when it creates a connection; Scan starts
// the next round. While another party (for example bluetoothd) is
// discovering, the kernel answers "busy": Scan then listens to the reports
// of that discovery and tries again every second until a round of its own
// starts or someone else's is seen running.
func (a *Adapter) discover(ctx context.Context, ev *sock, fn func(Found)) error {
	retry := false // discovery refused as busy and nobody seen discovering
	ours := false  // the running round is ours (never stop someone else's)
	start := func() error {
		_, err := a.cmd(ctx, mgmtStartDiscovery, a.Index, []byte{scanLE})
		retry, ours = errors.Is(err, ErrBusy), err == nil
		if retry {
			a.Busy.Add(1)
			return nil
		}
		if err == nil {
			a.Rounds.Add(1)
		}
		return err
	}
	if err := start(); err != nil {
		return fmt.Errorf("%v: start discovery: %w", a, err)
	}
	defer func() {
		if !ours {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = a.cmd(sctx, mgmtStopDiscovery, a.Index, []byte{scanLE})
	}()
	refresh := a.Refresh
	if refresh > 0 {
		refresh = max(refresh, time.Second)
	}
	roundStart := time.Now()
	buf := make([]byte, 1024)
	for {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		switch {
		case retry:
			rctx, cancel = context.WithTimeout(ctx, time.Second)
		case refresh > 0 && ours:
			rctx, cancel = context.WithDeadline(ctx, roundStart.Add(refresh))
		}
		n, err := ev.read(rctx, buf)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if retry {
					if err := start(); err != nil {
						return fmt.Errorf("%v: restart discovery: %w", a, err)
					}
				} else {
					// End the round; its Discovering event starts the next.
					roundStart = time.Now()
					if _, err := a.cmd(ctx, mgmtStopDiscovery, a.Index, []byte{scanLE}); err != nil && ctx.Err() == nil {
						ours, retry = false, true
					}
				}
				continue
			}
			return fmt.Errorf("%v: read mgmt events: %w", a, err)
		}
		e, err := parseMgmtEvent(buf[:n])
		if err != nil || e.Index != a.Index {
			continue
		}
		switch e.Code {
		case evDeviceFound:
			if f, err := parseFound(e.Params); err == nil {
				fn(f)
			}
		case evDiscovering:
			if len(e.Params) != 2 {
				continue
			}
			if e.Params[1] == 1 {
				retry = false // a round runs (ours or someone else's)
				roundStart = time.Now()
				continue
			}
			ours = false
			if err := start(); err != nil && ctx.Err() == nil {
				return fmt.Errorf("%v: restart discovery: %w", a, err)
			}
		case evIndexRemoved:
			return fmt.Errorf("%v: controller removed", a)
		}
	}
}

// mgmtReadAdvMonitorFeatures lists the advertisement monitors registered
// with the kernel.
const mgmtReadAdvMonitorFeatures = 0x0051

// AdvMonitors returns the handles of the advertisement monitors the kernel
// holds for this controller (anyone's: bluetoothd's too).
func (a *Adapter) AdvMonitors(ctx context.Context) ([]uint16, error) {
	rsp, err := a.cmd(ctx, mgmtReadAdvMonitorFeatures, a.Index, nil)
	if err != nil {
		return nil, fmt.Errorf("%v: read advertisement monitor features: %w", a, err)
	}
	if len(rsp) < 13 {
		return nil, fmt.Errorf("%v: advertisement monitor features of %d bytes", a, len(rsp))
	}
	n := int(binary.LittleEndian.Uint16(rsp[11:]))
	if len(rsp) < 13+2*n {
		return nil, fmt.Errorf("%v: advertisement monitor features of %d bytes for %d handles", a, len(rsp), n)
	}
	h := make([]uint16, n)
	for i := range h {
		h[i] = binary.LittleEndian.Uint16(rsp[13+2*i:])
	}
	return h, nil
}
