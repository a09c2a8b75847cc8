//go:build kerneltest && linux

package socketcan_test

// Tests on a kernel with SocketCAN (scripts/kernel-test.sh), with
// can-utils as the independent peer.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/can/cantest"
	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"golang.org/x/sys/unix"
)

func open(t *testing.T, o socketcan.Options) *socketcan.Conn {
	t.Helper()
	cantest.Require(t)
	c, err := socketcan.Open(cantest.Iface, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *socketcan.Conn) socketcan.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fr := make([]socketcan.Frame, 1)
	if _, err := c.Read(ctx, fr); err != nil {
		t.Fatal(err)
	}
	return fr[0]
}

// TestWriteSeenByCandump: classic, extended and FD frames (with BRS)
// written by us, byte for byte as candump prints them.
func TestWriteSeenByCandump(t *testing.T) {
	c := open(t, socketcan.Options{FD: true})
	d := cantest.Candump(t, "")
	for _, tc := range []struct {
		id           uint32
		ext, fd, brs bool
		data         string
		want         string
	}{
		{0x123, false, false, false, "0102", "123#0102"},
		{0x7ff, false, false, false, "", "7FF#"},
		{0x1abcdef0, true, false, false, "deadbeefcafebabe", "1ABCDEF0#DEADBEEFCAFEBABE"},
		{0x004, true, true, true, "aabbccddeeffaabbaabbccdd", "00000004##5AABBCCDDEEFFAABBAABBCCDD"},
		{0x010, false, true, false, strings.Repeat("11", 64), "010##4" + strings.Repeat("11", 64)},
	} {
		var data []byte
		fmt.Sscanf(tc.data, "%x", &data)
		f, err := socketcan.NewFrame(tc.id, tc.ext, tc.fd, tc.brs, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
		d.Expect(tc.want, 5*time.Second)
		if f.String() != tc.want {
			t.Errorf("String() = %s, want %s", f.String(), tc.want)
		}
	}
}

// TestReadFromCansend: frames from cansend arrive decoded.
func TestReadFromCansend(t *testing.T) {
	c := open(t, socketcan.Options{FD: true})
	for _, s := range []string{"123#0102", "1ABCDEF0#DEADBEEF", "00000004##7AABBCCDDEEFF0011", "7FF#R", "321#"} {
		cantest.Send(t, s)
		f := read(t, c)
		if f.String() != s {
			t.Errorf("cansend %s: read %s", s, f.String())
		}
	}
}

// TestKernelFilters: a flood of unmapped identifiers from cangen never
// reaches the socket; the mapped ones do, standard and extended apart.
func TestKernelFilters(t *testing.T) {
	c := open(t, socketcan.Options{Filters: []socketcan.Filter{{ID: 0x123}, {ID: 0x123, Extended: true}}})
	// 2000 random standard frames; cangen's ids avoid nothing, so the
	// mapped id may appear by chance: only our own marker frames count.
	cantest.Run(t, "cangen", cantest.Iface, "-g", "0", "-n", "2000", "-I", "r", "-L", "8", "-D", "r")
	cantest.Send(t, "00000123#EE")
	cantest.Send(t, "123#FF")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	buf := make([]socketcan.Frame, 64)
	for len(got) == 0 || got[len(got)-1] != "123#FF" {
		n, err := c.Read(ctx, buf)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		for _, f := range buf[:n] {
			if f.ID != 0x123 {
				t.Fatalf("filtered socket received %s", f.String())
			}
			got = append(got, f.String())
		}
	}
	if len(got) < 2 || got[len(got)-2] != "00000123#EE" {
		t.Fatalf("got %v, want the extended then the standard marker last", got)
	}
}

// TestErrorFrames: error frames (here injected with cansend, as a CAN
// driver would report them) arrive only with ErrorFrames and are named.
func TestErrorFrames(t *testing.T) {
	c := open(t, socketcan.Options{ErrorFrames: true, Filters: []socketcan.Filter{}})
	cantest.Send(t, "20000040#0000000000000000") // bus-off
	cantest.Send(t, "20000004#0030000000000000") // controller: error passive
	cantest.Send(t, "20000100#0000000000000000") // restarted
	for _, want := range []string{"bus-off", "error-passive", "restarted"} {
		f := read(t, c)
		if !f.Err || f.ErrorString() != want {
			t.Fatalf("got %s (%s), want %s", f.String(), f.ErrorString(), want)
		}
	}
}

// TestPeriodic: CAN_BCM sends at once and then every period; two jobs
// with the same identifier and different periods coexist.
func TestPeriodic(t *testing.T) {
	c := open(t, socketcan.Options{Filters: []socketcan.Filter{{ID: 0x77E, Extended: true}}})
	f1, _ := socketcan.NewFrame(0x77E, true, false, false, []byte{1})
	f2, _ := socketcan.NewFrame(0x77E, true, false, false, []byte{2})
	const period = 100 * time.Millisecond
	p1, err := socketcan.StartPeriodic(cantest.Iface, f1, period)
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Close()
	p2, err := socketcan.StartPeriodic(cantest.Iface, f2, 3*period)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var t1 []time.Time
	n2 := 0
	for len(t1) < 10 {
		f := read(t, c)
		switch f.Data[0] {
		case 1:
			t1 = append(t1, time.Now())
		case 2:
			n2++
		}
	}
	p2.Close()
	elapsed := t1[len(t1)-1].Sub(t1[0])
	// 9 intervals of 100 ms; the VM's clock and scheduling allow slack.
	if elapsed < 8*period || elapsed > 14*period {
		t.Errorf("10 frames took %v, want about %v", elapsed, 9*period)
	}
	if t1[0].Sub(start) > 5*period {
		t.Errorf("first frame after %v, want at once", t1[0].Sub(start))
	}
	if n2 < 3 || n2 > 6 {
		t.Errorf("%d frames of the 300 ms job in %v", n2, elapsed)
	}
	p1.Close()
	if err := p1.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestInterfaceDownUp: a reader sees ENETDOWN when the interface goes
// down, Open fails while it is down and works again once it is up.
func TestInterfaceDownUp(t *testing.T) {
	c := open(t, socketcan.Options{})
	errc := make(chan error, 1)
	go func() {
		buf := make([]socketcan.Frame, 1)
		_, err := c.Read(context.Background(), buf)
		errc <- err
	}()
	cantest.Link(t, "down")
	t.Cleanup(func() { cantest.Link(t, "up") })
	select {
	case err := <-errc:
		if !errors.Is(err, unix.ENETDOWN) {
			t.Fatalf("read on a downed interface: %v, want ENETDOWN", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read did not return after the interface went down")
	}
	if _, err := socketcan.Open(cantest.Iface, socketcan.Options{}); !errors.Is(err, unix.ENETDOWN) {
		t.Fatalf("Open on a downed interface: %v", err)
	}
	cantest.Link(t, "up")
	c2 := open(t, socketcan.Options{})
	cantest.Send(t, "555#01")
	if f := read(t, c2); f.String() != "555#01" {
		t.Fatalf("after up: %s", f.String())
	}
}

// TestReadCancel: a blocked Read returns when its context ends, and Close
// wakes a reader; nothing spins meanwhile.
func TestReadCancel(t *testing.T) {
	c := open(t, socketcan.Options{Filters: []socketcan.Filter{}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx, make([]socketcan.Frame, 1))
		errc <- err
	}()
	var ru0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel: %v", err)
	}
	go func() {
		_, err := c.Read(context.Background(), make([]socketcan.Frame, 1))
		errc <- err
	}()
	c.Close()
	if err := <-errc; !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestMissingInterface(t *testing.T) {
	if _, err := socketcan.Open("vcan9", socketcan.Options{}); err == nil || !strings.Contains(err.Error(), "vcan9") {
		t.Fatalf("Open(vcan9): %v", err)
	}
}

// TestDropsCounted: frames the kernel drops for a full receive buffer are
// counted, so a flood that outruns the reader is visible.
func TestDropsCounted(t *testing.T) {
	c := open(t, socketcan.Options{ReadBuffer: 4096, Filters: []socketcan.Filter{{ID: 0x100}, {ID: 0x101}}})
	cantest.Run(t, "cangen", cantest.Iface, "-g", "0", "-n", "500", "-I", "100", "-L", "2", "-D", "i")
	buf := make([]socketcan.Frame, 64)
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		n, err := c.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
		if n < len(buf) {
			break // the queue is empty
		}
	}
	cantest.Send(t, "101#01") // carries the final count
	for {
		n, err := c.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		if buf[n-1].ID == 0x101 {
			got += n - 1
			break
		}
		got += n
	}
	if c.Dropped() == 0 || uint64(got)+c.Dropped() != 500 {
		t.Fatalf("read %d, dropped %d: want a sum of 500 with drops", got, c.Dropped())
	}
	t.Logf("read %d, kernel dropped %d", got, c.Dropped())
}
