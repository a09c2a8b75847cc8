//go:build linux

// Command kernelinit is PID 1 of the throw-away qemu VM that
// scripts/kernel-test.sh boots to test kernel features (SocketCAN,
// Bluetooth) on a stock distribution kernel. It is built as a static
// binary and placed at /init of a small initramfs.
//
// It mounts /proc, /sys, /dev (devtmpfs), /tmp and /run, loads the kernel
// modules listed in /etc/rig/modules (file names under /lib/modules/rig, in
// dependency order) with finit_module, brings the loopback interface up,
// creates and raises vcan0 when the vcan module was loaded, then runs the
// test binaries listed in /etc/rig/tests, one per line:
//
//	<binary> <timeout> <directory> [args...]
//
// Their output goes to the console as it is produced. A binary fails when it
// exits non-zero, runs past its timeout, or reports a skipped test
// ("--- SKIP"): a skip inside the rig means a promise was not kept.
// Finally init prints "RIG-RESULT: PASS" or "RIG-RESULT: FAIL", reports the
// result through qemu's isa-debug-exit device (iobase 0xf4; qemu exits 1 on
// PASS, 3 on FAIL) and powers off.
//
// Kernel command line knobs: rig.run=<regexp> passes -test.run to every
// binary; rig.shell keeps the VM up after the tests (debugging).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

var start = time.Now()

func logf(format string, a ...any) {
	fmt.Printf("RIG [%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
}

func main() {
	setupFS()
	cmdline, _ := os.ReadFile("/proc/cmdline")
	args := strings.Fields(string(cmdline))
	var u unix.Utsname
	_ = unix.Uname(&u)
	logf("kernel %s, cmdline: %s", unix.ByteSliceToString(u.Release[:]), strings.TrimSpace(string(cmdline)))

	ok := true
	fail := func(what string, err error) {
		if err != nil {
			ok = false
			fmt.Printf("RIG-FAIL %s: %v\n", what, err)
		}
	}
	loaded, err := loadModules("/etc/rig/modules", "/lib/modules/rig")
	fail("load modules", err)
	fail("loopback up", linkUp("lo"))
	if loaded["vcan"] {
		fail("create vcan0", createLink("vcan0", "vcan"))
		fail("vcan0 up", linkUp("vcan0"))
	}
	if ok {
		run, _ := arg(args, "rig.run")
		ok = runTests("/etc/rig/tests", run)
	}
	if ok {
		fmt.Println("RIG-RESULT: PASS")
	} else {
		fmt.Println("RIG-RESULT: FAIL")
	}
	finish(ok, args)
}

func arg(args []string, key string) (string, bool) {
	for _, a := range args {
		if a == key {
			return "", true
		}
		if v, found := strings.CutPrefix(a, key+"="); found {
			return v, true
		}
	}
	return "", false
}

func setupFS() {
	_ = os.MkdirAll("/dev", 0o755)
	_ = unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	if fd, err := unix.Open("/dev/console", unix.O_RDWR, 0); err == nil {
		for i := 0; i < 3; i++ {
			_ = unix.Dup3(fd, i, 0)
		}
		if fd > 2 {
			unix.Close(fd)
		}
	}
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	} {
		_ = os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			fmt.Printf("mount %s: %v\n", m.dst, err)
		}
	}
}

// loadModules loads every module file named in list from dir, in order.
// It returns the names of the modules loaded (without .ko, "-" as "_"
// kept as written).
func loadModules(list, dir string) (map[string]bool, error) {
	loaded := map[string]bool{}
	b, err := os.ReadFile(list)
	if errors.Is(err, os.ErrNotExist) {
		return loaded, nil
	}
	if err != nil {
		return loaded, err
	}
	var errs []error
	for _, name := range strings.Fields(string(b)) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("finit_module %s: %w", name, err))
			continue
		}
		loaded[strings.TrimSuffix(name, ".ko")] = true
	}
	logf("%d modules loaded", len(loaded))
	return loaded, errors.Join(errs...)
}

// runTests runs every binary listed in file and reports whether all passed.
func runTests(file, run string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Printf("RIG-FAIL read %s: %v\n", file, err)
		return false
	}
	ok := true
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		bin, dir, args := f[0], f[2], f[3:]
		timeout, err := time.ParseDuration(f[1])
		if err != nil {
			fmt.Printf("RIG-FAIL %s: bad timeout %q\n", bin, f[1])
			ok = false
			continue
		}
		if run != "" {
			args = append(args, "-test.run="+run)
		}
		if err := runTest(bin, dir, timeout, args); err != nil {
			fmt.Printf("RIG-FAIL %s: %v\n", bin, err)
			ok = false
		} else {
			fmt.Printf("RIG-PASS %s\n", bin)
		}
	}
	return ok
}

// runTest runs one test binary, streaming its output, and fails on a
// non-zero exit, the timeout, or a skipped test.
func runTest(bin, dir string, timeout time.Duration, args []string) error {
	t0 := time.Now()
	logf("running %s %s", bin, strings.Join(args, " "))
	args = append([]string{"-test.v", "-test.timeout=" + timeout.String()}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/tmp", "TMPDIR=/tmp", "TBGW_KERNEL_RIG=1"}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	skips := make(chan []string, 1)
	go func() {
		var s []string
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Println(line)
			if strings.Contains(line, "--- SKIP") {
				s = append(s, strings.TrimSpace(line))
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		skips <- s
	}()
	// The binary enforces -test.timeout itself; this is the backstop.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout + 10*time.Second):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("still running after %v: killed", timeout+10*time.Second)
	}
	pw.Close()
	s := <-skips
	logf("%s finished in %v", bin, time.Since(t0).Round(time.Millisecond))
	if err != nil {
		return err
	}
	if len(s) > 0 {
		return fmt.Errorf("skipped tests: %s", strings.Join(s, "; "))
	}
	return nil
}

func finish(ok bool, args []string) {
	// Let the console drain before qemu goes away with it.
	_ = unix.IoctlSetInt(1, unix.TCSBRK, 1)
	unix.Sync()
	if f, err := os.OpenFile("/dev/port", os.O_WRONLY, 0); err == nil {
		v := byte(0) // qemu exits with (v<<1)|1
		if !ok {
			v = 1
		}
		_, _ = f.WriteAt([]byte{v}, 0xf4)
		f.Close()
	}
	if _, shell := arg(args, "rig.shell"); shell {
		select {}
	}
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Println("power off:", err)
	}
	select {}
}
