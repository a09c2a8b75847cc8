package rig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process in its own process group. The group is killed
// when the process is stopped and, through the parent-death signal, when
// the rig itself dies.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, after done
}

// StartProc starts name with args, its standard output and error going to
// out (which may be nil).
func StartProc(name string, out io.Writer, bin string, args ...string) (*Proc, error) {
	return StartProcEnv(name, out, nil, bin, args...)
}

// StartProcEnv is StartProc with variables added to the environment.
func StartProcEnv(name string, out io.Writer, env []string, bin string, args ...string) (*Proc, error) {
	return startProc(name, out, nil, env, bin, args...)
}

func startProc(name string, out io.Writer, in io.Reader, env []string, bin string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = in
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills the
// group. It reports whether the process exited by itself and its status.
func (p *Proc) Stop(grace time.Duration) (clean bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		// Reap anything left in the group.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return true, p.err
	case <-t.C:
		p.Kill()
		return false, errors.New(p.Name + ": did not stop in time, killed")
	}
}

// Usage is one reading of a process's resources.
type Usage struct {
	At  time.Time
	CPU time.Duration // user + system time since the process started
	RSS int64         // resident set, bytes
	HWM int64         // peak resident set, bytes
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// ReadUsage reads /proc/<pid>/stat and /proc/<pid>/status.
func ReadUsage(pid int) (Usage, error) {
	u := Usage{At: time.Now()}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return u, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return u, errors.New("proc stat: no comm")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return u, errors.New("proc stat: short")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u.CPU = time.Duration(ut+st) * clockTick
	// /proc/<pid>/stat counts in 10 ms ticks: a 20 s window at 0.3 % of a
	// core is six of them. The threads' schedstat counts nanoseconds;
	// it misses threads that have exited (Go rarely ends one), so it is
	// used only while it is not below the ticks.
	if ns := taskRuntime(pid); ns >= u.CPU {
		u.CPU = ns
	}
	sf, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return u, err
	}
	defer sf.Close()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &u.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &u.HWM
		default:
			continue
		}
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			*dst = kb << 10
		}
	}
	return u, sc.Err()
}

// taskRuntime is the time on a CPU of the process's live threads, the first
// field of /proc/<pid>/task/*/schedstat (nanoseconds); 0 when unreadable.
func taskRuntime(pid int) time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f, _, _ := strings.Cut(string(b), " ")
		ns, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0
		}
		sum += time.Duration(ns)
	}
	return sum
}

// HostCPU reads the busy and total jiffies of the machine (/proc/stat).
func HostCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return time.Duration(sum-idle) * clockTick, time.Duration(sum) * clockTick
}

// Sampler reads a process's usage once a second (and on demand).
type Sampler struct {
	pid  int
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	samples []Usage
}

// Sample starts sampling pid.
func Sample(pid int) *Sampler {
	s := &Sampler{pid: pid, stop: make(chan struct{})}
	s.Now()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.Now()
			}
		}
	}()
	return s
}

// Now takes a sample at once and returns it (the zero Usage when the
// process is gone).
func (s *Sampler) Now() Usage {
	u, err := ReadUsage(s.pid)
	if err != nil {
		return Usage{}
	}
	s.mu.Lock()
	s.samples = append(s.samples, u)
	s.mu.Unlock()
	return u
}

// Close stops sampling. Idempotent.
func (s *Sampler) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// Samples returns the samples taken in [from, to].
func (s *Sampler) Samples(from, to time.Time) []Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Usage
	for _, u := range s.samples {
		if !u.At.Before(from) && !u.At.After(to) {
			out = append(out, u)
		}
	}
	return out
}

// Peak is the highest peak resident set seen.
func (s *Sampler) Peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p int64
	for _, u := range s.samples {
		p = max(p, u.HWM, u.RSS)
	}
	return p
}
