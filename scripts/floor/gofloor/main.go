//go:build linux

// Command gofloor is floor.c's round written in Go: what the everyday
// workload's rounds cost with the Go runtime under them but nothing of the
// gateway (no MQTT, conversion, log format or uplink). Set beside the C
// floor and the gateway, it shows how much of the gateway's cost is the
// runtime's (its network poller, timers and monitor thread) and how much
// the gateway's own. `go run ./scripts/bench -scenarios floor,gofloor`
// builds and runs it; docs/performance.md ("The machine's floor") has its
// figures.
//
// As in floor.c there are three processes on 127.0.0.1 (random ports):
// the device (RATE messages/s of 60 bytes, paced by an absolute clock),
// a ThingsBoard stand-in that answers each read with 4 bytes, and the
// measured gateway, which waits for the device's data on the runtime's
// poller, sleeps out the window (time.Sleep), reads everything that came
// and the previous round's PUBACK, writes the bytes to a file and
// fdatasyncs it (unless SYNC is 0), and writes one acknowledgement to the
// device and one publish to ThingsBoard. While it sleeps the device
// socket's receive low-water mark is raised (as the gateway's reader
// raises it): Go's poller watches every socket all the time, and each
// message arriving in the window would wake it. The socket calls and the
// fdatasync are raw system calls (as tbgw's quietsock and its log make
// them). The file is appended to through os.File, as the log's segment
// write does, with SYNC 1; with SYNC 0 (memory storage: the gateway
// writes no file) the write is raw, as in floor.c. WRITE (os or raw)
// overrides that.
//
// Usage: gofloor RATE WINDOW_MS SYNC WARMUP_S SECONDS FILE [os|raw]
//
// It prints floor.c's key=value line. It ends after WARMUP_S + SECONDS,
// or with an error when the device side closes.
//
// Non-goals: anything floor.c does not do; timers of its own (the silence
// check of floor.c would need one per round).
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "device":
		err = device(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "thingsboard":
		err = thingsboard(os.Args[2])
	case len(os.Args) == 7 || len(os.Args) == 8:
		err = gateway(os.Args[1:])
	default:
		fmt.Fprintln(os.Stderr, "usage: gofloor RATE WINDOW_MS SYNC WARMUP_S SECONDS FILE [os|raw]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gofloor:", err)
		os.Exit(1)
	}
}

// device publishes rate messages a second until the gateway goes.
func device(addr, rateArg string) error {
	rate, err := strconv.Atoi(rateArg)
	if err != nil || rate <= 0 || rate > 100000 {
		return fmt.Errorf("bad rate %q", rateArg)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	msg := make([]byte, 60)
	for i := range msg {
		msg[i] = 'x'
	}
	go func() { // drain the acknowledgements
		b := make([]byte, 4096)
		for {
			if _, err := c.Read(b); err != nil {
				os.Exit(0)
			}
		}
	}()
	next := time.Now()
	step := time.Second / time.Duration(rate)
	for {
		if _, err := c.Write(msg); err != nil {
			return nil
		}
		next = next.Add(step)
		time.Sleep(time.Until(next))
	}
}

// thingsboard answers every read with a 4-byte acknowledgement.
func thingsboard(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	b := make([]byte, 1<<16)
	for {
		if _, err := c.Read(b); err != nil {
			return nil
		}
		if _, err := c.Write([]byte("PACK")); err != nil {
			return nil
		}
	}
}

// child starts this program as the device or the stand-in, killed with
// the gateway.
func child(args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, cmd.Start()
}

func gateway(args []string) error {
	rate, err1 := strconv.Atoi(args[0])
	windowMS, err2 := strconv.Atoi(args[1])
	warmup, err3 := strconv.ParseFloat(args[3], 64)
	secs, err4 := strconv.ParseFloat(args[4], 64)
	sync, file := args[2] != "0", args[5]
	rawWrite := !sync // memory storage: floor.c's write, without the runtime
	if len(args) == 7 {
		rawWrite = args[6] == "raw"
	}
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || rate <= 0 || rate > 100000 ||
		windowMS < 0 || windowMS > 10000 || warmup < 0 || secs <= 0 || secs > 3600 ||
		(len(args) == 7 && args[6] != "raw" && args[6] != "os") {
		return fmt.Errorf("bad arguments %q", args)
	}
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer dl.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer tl.Close()
	dev, err := child("device", dl.Addr().String(), strconv.Itoa(rate))
	if err != nil {
		return err
	}
	defer func() { _ = dev.Process.Kill(); _ = dev.Wait() }()
	tb, err := child("thingsboard", tl.Addr().String())
	if err != nil {
		return err
	}
	defer func() { _ = tb.Process.Kill(); _ = tb.Wait() }()
	dc, err := dl.Accept()
	if err != nil {
		return err
	}
	defer dc.Close()
	tc, err := tl.Accept()
	if err != nil {
		return err
	}
	defer tc.Close()
	drc, err := dc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	trc, err := tc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	defer f.Close()
	ffd := f.Fd()

	buf := make([]byte, 1<<16)
	pk := make([]byte, 256)
	var off int64
	var msgs, rounds int64
	var t0 time.Time
	var cpu0 time.Duration
	var sw0 int64
	high := false // the device socket's low-water mark is raised
	start := time.Now()
	for {
		// Wait for the device's data: a read that finds none lowers the
		// receive low-water mark and waits on the poller, as the
		// gateway's reader does.
		got := 0
		var rerr error
		err := drc.Read(func(fd uintptr) bool {
			n, e := rawRead(fd, buf)
			switch {
			case e == syscall.EAGAIN:
				if high {
					lowWater(fd, 1)
					high = false
				}
				return false
			case e != 0:
				rerr = e
			case n == 0:
				rerr = fmt.Errorf("the device side closed")
			}
			got = n
			return true
		})
		if err != nil || rerr != nil {
			return fmt.Errorf("device: %v %v", err, rerr)
		}
		// The runtime's poller watches the socket all the time: with the
		// mark raised, messages arriving in the window do not wake it.
		if !high {
			_ = drc.Control(func(fd uintptr) { lowWater(fd, len(buf)/2) })
			high = true
		}
		time.Sleep(time.Duration(windowMS) * time.Millisecond)
		_ = drc.Read(func(fd uintptr) bool {
			for got < len(buf) {
				n, e := rawRead(fd, buf[got:])
				if e != 0 || n <= 0 {
					break
				}
				got += n
			}
			return true
		})
		_ = trc.Read(func(fd uintptr) bool {
			for {
				if n, e := rawRead(fd, pk); e != 0 || n <= 0 {
					return true
				}
			}
		})
		if rawWrite {
			if _, _, e := syscall.RawSyscall(syscall.SYS_WRITE, ffd, uintptr(unsafe.Pointer(&buf[0])), uintptr(got)); e != 0 {
				return fmt.Errorf("write: %w", e)
			}
		} else if _, err := f.Write(buf[:got]); err != nil {
			return err
		}
		if off += int64(got); off > 64<<20 { // as floor.c: the file stays small
			if _, err := f.Seek(0, 0); err != nil {
				return err
			}
			off = 0
		}
		if sync {
			if _, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, ffd, 0, 0); e != 0 {
				return fmt.Errorf("fdatasync: %w", e)
			}
		}
		_ = drc.Write(func(fd uintptr) bool { rawWrite1(fd, []byte("ACKS")); return true })
		_ = trc.Write(func(fd uintptr) bool { rawWrite1(fd, buf[:got]); return true })
		now := time.Now()
		if t0.IsZero() {
			if now.Sub(start).Seconds() >= warmup {
				t0, cpu0, sw0 = now, cpuTime(), switches()
			}
			continue
		}
		msgs += int64(got / 60)
		rounds++
		if el := now.Sub(t0).Seconds(); el >= secs {
			cpu := (cpuTime() - cpu0).Seconds()
			per1k, perRound := 0.0, 0.0
			if msgs > 0 {
				per1k = cpu * 1000 / (float64(msgs) * 3 / 1000)
			}
			if rounds > 0 {
				perRound = cpu / float64(rounds) * 1e6
			}
			fmt.Printf("msgs_per_s=%.1f rounds_per_s=%.2f cpu_pct=%.4f ms_per_1000dp=%.2f us_per_round=%.1f csw_per_s=%.1f\n",
				float64(msgs)/el, float64(rounds)/el, cpu/el*100, per1k, perRound, float64(switches()-sw0)/el)
			return nil
		}
	}
}

// rawRead reads without the runtime's system-call bookkeeping (the socket
// is non-blocking: it returns at once).
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e == syscall.EINTR {
			continue
		}
		return int(n), e
	}
}

// rawWrite1 writes p once, as floor.c does (a full socket buffer drops
// the rest; at these rates it never is).
func rawWrite1(fd uintptr, p []byte) {
	if len(p) > 0 {
		_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	}
}

// lowWater sets the socket's SO_RCVLOWAT, a raw system call like the
// others (one through the runtime would wake its monitor).
func lowWater(fd uintptr, n int) {
	v := int32(n)
	_, _, _ = unix.RawSyscall6(unix.SYS_SETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, uintptr(unsafe.Pointer(&v)), 4, 0)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func switches() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return int64(ru.Nvcsw) + int64(ru.Nivcsw)
}
