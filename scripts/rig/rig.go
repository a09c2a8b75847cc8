package rig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Rig is one test setup: ledger, ThingsBoard stand-in, device broker,
// gateway and load generator.
type Rig struct {
	Dir string
	Led *Ledger
	TB  *ThingsBoard
	Dev *Mosquitto
	GW  *Gateway
	Gen *Generator
	Log io.Writer // progress lines

	probe *Device

	evMu   sync.Mutex
	events []string
}

// Event records a fault injection on the ledger clock, for failure
// reports.
func (r *Rig) Event(what string) {
	r.evMu.Lock()
	r.events = append(r.events, fmt.Sprintf("%s %s", time.Duration(r.Led.Now()), what))
	r.evMu.Unlock()
	r.Logf("%s", what)
}

// Diagnose describes the run for a failure report: events, lost messages
// and the ends of the gateway's and the device broker's logs.
func (r *Rig) Diagnose() string {
	var b strings.Builder
	r.evMu.Lock()
	fmt.Fprintf(&b, "events (ledger clock): %s\n", strings.Join(r.events, "; "))
	r.evMu.Unlock()
	b.WriteString(r.Led.LostSummary(5))
	if r.Dev != nil {
		fmt.Fprintf(&b, "device broker log:\n%s\n", tail(filepath.Join(r.Dev.dir, "mosquitto.log"), 1500))
	}
	if r.GW != nil {
		fmt.Fprintf(&b, "gateway log:\n%s\n", r.GW.LogTail(3000))
	}
	return b.String()
}

// Options configure New.
type Options struct {
	Dir     string        // working directory (created)
	Gateway GatewayConfig // Bin and the storage settings; ports and Dir are filled in
	// NoDeviceBroker leaves out mosquitto and the MQTT connector.
	NoDeviceBroker bool
	Log            io.Writer
}

// New starts the ThingsBoard stand-in and the device broker and writes
// the gateway configuration; it does not start the gateway.
func New(o Options) (r *Rig, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.Gateway.Bin); err != nil {
		return nil, fmt.Errorf("gateway binary: %w (build it: make build)", err)
	}
	r = &Rig{Dir: o.Dir, Led: NewLedger(), Log: o.Log}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.TB, err = StartThingsBoard(r.Led); err != nil {
		return nil, err
	}
	gc := o.Gateway
	gc.TB = r.TB.Port
	if !o.NoDeviceBroker {
		if r.Dev, err = StartMosquitto(filepath.Join(o.Dir, "mosquitto")); err != nil {
			return nil, err
		}
		gc.MQTT = r.Dev.Port
	}
	if gc.Dir == "" {
		gc.Dir = filepath.Join(o.Dir, "gateway")
	}
	if r.GW, err = NewGateway(gc); err != nil {
		return nil, err
	}
	r.probe = r.Led.Device("rig-probe")
	r.probe.Probe = true
	return r, nil
}

// Logf prints a progress line.
func (r *Rig) Logf(format string, args ...any) {
	fmt.Fprintf(r.Log, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// Close stops everything the rig started. Idempotent.
func (r *Rig) Close() {
	if r.Gen != nil {
		r.Gen.Stop(0)
		r.Gen = nil
	}
	if r.GW != nil {
		r.GW.Kill()
	}
	if r.Dev != nil {
		r.Dev.Kill()
	}
	if r.TB != nil {
		r.TB.Stop()
	}
}

// Devices creates n devices named prefix0001...
func (r *Rig) Devices(prefix string, n int) []*Device {
	out := make([]*Device, n)
	for i := range out {
		out[i] = r.Led.Device(fmt.Sprintf("%s%04d", prefix, i+1))
	}
	return out
}

// WaitReady publishes probe messages until one reaches ThingsBoard through
// the gateway: the whole path is up and subscribed.
func (r *Rig) WaitReady(timeout time.Duration) error {
	if r.Dev == nil {
		return r.Await(timeout, "gateway connected to ThingsBoard", func() bool { return r.TB.Connects() > 0 })
	}
	g := StartGenerator(r.Led, GenConfig{Addr: r.Dev.Addr(), Devices: []*Device{r.probe}, Conns: 1, Rate: 20})
	defer g.Stop(2 * time.Second)
	start := r.probe.deliveredCount()
	return r.Await(timeout, "a probe message through the gateway", func() bool {
		return r.probe.deliveredCount() > start
	})
}

func (d *Device) deliveredCount() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got.count()
}

// ErrTimeout is returned by the waits.
var ErrTimeout = errors.New("timed out")

// Await polls cond every 5 ms until it holds or timeout passes. It also
// fails early when the gateway process died unexpectedly.
func (r *Rig) Await(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v waiting for %s", ErrTimeout, timeout, what)
		}
		if r.GW != nil && r.GW.proc != nil {
			if gone, err := r.GW.proc.Exited(); gone && r.GW.Starts > 0 && !r.GW.expectDown.Load() {
				return fmt.Errorf("gateway exited (%v) while waiting for %s; log:\n%s", err, what, r.GW.LogTail(3000))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitCovered waits until everything acknowledged up to m is delivered
// and returns how long that took.
func (r *Rig) WaitCovered(m Mark, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	err := r.Await(timeout, "delivery of every accepted message", func() bool { return r.Led.Covered(m) })
	return time.Since(start), err
}

// StopLoad stops the generator (waiting up to 60 s for its last
// acknowledgements) and then waits up to timeout until everything
// accepted reached ThingsBoard.
func (r *Rig) StopLoad(timeout time.Duration) error {
	if r.Gen != nil {
		if left := r.Gen.Stop(60 * time.Second); left > 0 {
			r.Logf("generator: %d messages never acknowledged by the device broker", left)
		}
		r.Gen = nil
	}
	_, err := r.WaitCovered(r.Led.Mark(), timeout)
	return err
}
