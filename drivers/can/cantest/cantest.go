// Package cantest drives can-utils (cansend, candump, cangen) and
// iproute2 (ip) as independent peers for tests that run on a kernel with
// SocketCAN, such as the qemu rig of scripts/kernel-test.sh. It is
// imported by tests only.
package cantest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Iface is the virtual CAN interface the rig creates.
const Iface = "vcan0"

// SyncID is the identifier of the frames Candump uses to know it is
// listening; tests must not map it.
const SyncID = "7FE"

// Require fails the test when the interface is missing: these tests run
// where the kernel has SocketCAN, never skipped.
func Require(t testing.TB) {
	t.Helper()
	if _, err := net.InterfaceByName(Iface); err != nil {
		t.Fatalf("%s: %v (run through scripts/kernel-test.sh)", Iface, err)
	}
}

// Run runs a command to its end and returns its output; failure fails the
// test.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Send sends one frame with cansend ("123#0102", "12345678#..", "123##1..").
func Send(t testing.TB, frame string) {
	t.Helper()
	Run(t, "cansend", Iface, frame)
}

// Link sets the interface "up" or "down" with ip.
func Link(t testing.TB, state string) {
	t.Helper()
	Run(t, "ip", "link", "set", Iface, state)
}

// Dump is a running candump.
type Dump struct {
	t     testing.TB
	cmd   *exec.Cmd
	lines chan string
	once  sync.Once
}

// Candump starts "candump -L [extra...] vcan0[,filters]" and returns once
// it receives frames. It is stopped at the end of the test.
func Candump(t testing.TB, filters string, extra ...string) *Dump {
	t.Helper()
	target := Iface
	if filters != "" {
		target += "," + filters + "," + SyncID + ":7FF"
	}
	args := append([]string{"-L"}, extra...)
	cmd := exec.Command("candump", append(args, target)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &Dump{t: t, cmd: cmd, lines: make(chan string, 4096)}
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 {
				d.lines <- f[2] // "(ts) vcan0 frame"
			}
		}
	}()
	t.Cleanup(d.Stop)
	// candump is listening once it prints a frame sent after it started.
	for i := 0; ; i++ {
		Send(t, SyncID+"#53594E43")
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatal("candump exited")
			}
			if strings.HasPrefix(l, SyncID+"#") {
				d.drainSync()
				return d
			}
		case <-time.After(200 * time.Millisecond):
		}
		if i == 50 {
			t.Fatal("candump did not start within 10s")
		}
	}
}

func (d *Dump) drainSync() {
	for {
		select {
		case l := <-d.lines:
			if !strings.HasPrefix(l, SyncID+"#") {
				d.t.Fatalf("unexpected frame while syncing candump: %s", l)
			}
		default:
			return
		}
	}
}

// Next returns the next frame candump printed, in cansend notation
// (upper-case hex), skipping sync frames.
func (d *Dump) Next(timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				return "", fmt.Errorf("candump exited")
			}
			if strings.HasPrefix(l, SyncID+"#") {
				continue
			}
			return l, nil
		case <-deadline.C:
			return "", fmt.Errorf("no frame within %v", timeout)
		}
	}
}

// Expect fails the test unless the next frame is want.
func (d *Dump) Expect(want string, timeout time.Duration) {
	d.t.Helper()
	got, err := d.Next(timeout)
	if err != nil {
		d.t.Fatalf("candump: want %s: %v", want, err)
	}
	if got != want {
		d.t.Fatalf("candump: got %s, want %s", got, want)
	}
}

// Flush sends a sync frame and returns the frames candump printed
// before it: what was on the bus up to now, with no guessing at delays.
func (d *Dump) Flush(timeout time.Duration) []string {
	d.t.Helper()
	Send(d.t, SyncID+"#464C5553")
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var got []string
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				d.t.Fatal("candump exited")
			}
			if l == SyncID+"#464C5553" {
				return got
			}
			if !strings.HasPrefix(l, SyncID+"#") {
				got = append(got, l)
			}
		case <-deadline.C:
			d.t.Fatalf("candump: sync frame not seen within %v", timeout)
		}
	}
}

// Stop ends candump.
func (d *Dump) Stop() {
	d.once.Do(func() {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
	})
}
