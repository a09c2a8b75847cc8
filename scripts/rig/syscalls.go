package rig

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Switches is the number of context switches of every thread of pid
// (voluntary and not) so far: a process that sleeps until there is work
// switches once per wake-up, so their rate is the wake-up rate.
func Switches(pid int) int64 {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "voluntary_ctxt_switches:") || strings.HasPrefix(line, "nonvoluntary_ctxt_switches:") {
				if f := strings.Fields(line); len(f) == 2 {
					v, _ := strconv.ParseInt(f[1], 10, 64)
					n += v
				}
			}
		}
	}
	return n
}

// WrittenBytes is what pid caused to be written to storage so far
// (/proc/<pid>/io write_bytes), -1 if unknown.
func WrittenBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// SyncCounter counts the fsync and fdatasync calls of a process with
// perf's syscall tracepoints (no per-call overhead in the traced process).
// Without perf or the permission it counts nothing and Stop returns -1.
type SyncCounter struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// CountSyncs starts counting pid's fsync and fdatasync calls.
func CountSyncs(pid int) *SyncCounter {
	s := &SyncCounter{}
	perf, err := exec.LookPath("perf")
	if err != nil {
		return s
	}
	cmd := exec.Command(perf, "stat", "-x", ",", "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
		"-p", strconv.Itoa(pid))
	cmd.Stderr = &s.out
	if cmd.Start() != nil {
		return s
	}
	s.cmd = cmd
	return s
}

// Stop ends counting and returns the number of calls, -1 if unknown.
func (s *SyncCounter) Stop() int64 {
	if s == nil || s.cmd == nil {
		return -1
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
	var n int64
	seen := 0
	for _, line := range strings.Split(s.out.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || !strings.Contains(line, "syscalls:sys_enter_f") {
			continue
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return -1 // "<not supported>" or "<not counted>"
		}
		n += v
		seen++
	}
	if seen != 2 {
		return -1
	}
	return n
}
