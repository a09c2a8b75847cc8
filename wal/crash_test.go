package wal

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a child that appends and
// consumes in a loop, printing a line after every Append, Next and Ack that
// returned. The parent kills it with SIGKILL after a random number of lines,
// reopens the log and checks every acknowledged append is there, in order,
// exactly once.

const (
	envCrashDir  = "TBGW_WAL_CRASH_DIR"
	envCrashRun  = "TBGW_WAL_CRASH_RUN"
	envCrashSync = "TBGW_WAL_CRASH_SYNC"
	envCrashIter = "TBGW_WAL_CRASH_ITERS"
)

var crashOptions = Options{SegmentBytes: 8 << 10, MaxBytes: 256 << 20, SyncInterval: 5 * time.Millisecond}

func crashPayload(run, k int) []byte { return fmt.Appendf(nil, "r%d:%d:%032d", run, k, k) }

func parsePayload(b []byte) (run, k int, ok bool) {
	f := strings.Split(string(b), ":")
	if len(f) != 3 || !strings.HasPrefix(f[0], "r") {
		return 0, 0, false
	}
	run, err1 := strconv.Atoi(f[0][1:])
	k, err2 := strconv.Atoi(f[1])
	return run, k, err1 == nil && err2 == nil && string(b) == string(crashPayload(run, k))
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("child of TestCrashSIGKILL")
	}
	run, _ := strconv.Atoi(os.Getenv(envCrashRun))
	o := crashOptions
	o.Sync, _ = ParseSync(os.Getenv(envCrashSync))
	l, err := Open(dir, o)
	if err != nil {
		fmt.Printf("OPENERR %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("READY\n")
	deadline := time.Now().Add(20 * time.Second) // the parent kills long before
	go func() {
		r := rand.New(rand.NewPCG(uint64(run), 9))
		for time.Now().Before(deadline) {
			b, err := l.Next(context.Background(), 1+r.IntN(40), 1<<20)
			if err != nil {
				fmt.Printf("NEXTERR %v\n", err)
				os.Exit(2)
			}
			last := b.Records[len(b.Records)-1]
			fmt.Printf("N %s\n", last)
			if r.IntN(4) == 0 {
				l.Rewind()
				continue
			}
			if err := l.Ack(b.Last()); err != nil {
				fmt.Printf("ACKERR %v\n", err)
				os.Exit(2)
			}
			fmt.Printf("K %s\n", last)
		}
	}()
	r := rand.New(rand.NewPCG(uint64(run), 7))
	for k := 0; time.Now().Before(deadline); {
		n := 1 + r.IntN(20)
		recs := make([][]byte, n)
		for i := range recs {
			recs[i] = crashPayload(run, k+i)
		}
		if err := l.Append(recs); err != nil {
			fmt.Printf("APPENDERR %v\n", err)
			os.Exit(2)
		}
		k += n
		fmt.Printf("A %d %d\n", run, k-1)
	}
	os.Exit(0)
}

type pos struct{ run, k int }

func (a pos) less(b pos) bool { return a.run < b.run || a.run == b.run && a.k < b.k }

func TestCrashSIGKILL(t *testing.T) {
	iters := 300
	if testing.Short() {
		iters = 50
	}
	if s := os.Getenv(envCrashIter); s != "" {
		iters, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	printed := map[int]int{} // run -> highest k whose Append returned
	lastN := pos{-1, 0}      // highest record handed out by Next
	durable := pos{-1, 0}    // highest record acked by the parent before a clean Close
	policies := []Sync{SyncBatch, SyncBatch, SyncInterval, SyncNever}
	r := rand.New(rand.NewPCG(42, 43))
	start := time.Now()
	var kills, appended int
	for run := range iters {
		sync := policies[r.IntN(len(policies))]
		lines := runCrashChild(t, dir, run, sync, r.IntN(150))
		kills++
		for _, ln := range lines {
			f := strings.Fields(ln)
			switch {
			case len(f) == 3 && f[0] == "A":
				k, _ := strconv.Atoi(f[2])
				printed[run] = k
				appended++
			case len(f) == 2 && (f[0] == "N" || f[0] == "K"):
				rr, k, ok := parsePayload([]byte(f[1]))
				if !ok {
					t.Fatalf("run %d: child printed %q", run, ln)
				}
				p := pos{rr, k}
				if lastN.less(p) {
					lastN = p
				}
			case ln == "READY":
			default:
				t.Fatalf("run %d: child printed %q", run, ln)
			}
		}
		verifyCrashLog(t, dir, run, r, printed, lastN, &durable)
	}
	t.Logf("%d SIGKILLs, %d acknowledged appends, %v", kills, appended, time.Since(start).Round(time.Millisecond))
}

// runCrashChild starts a child and kills it after it printed n lines.
func runCrashChild(t *testing.T, dir string, run int, sync Sync, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashRun+"="+strconv.Itoa(run), envCrashSync+"="+sync.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			cmd.Process.Kill() // SIGKILL
		}
	}
	defer kill()
	timer := time.AfterFunc(30*time.Second, kill) // a hung child fails the test below
	defer timer.Stop()
	br := bufio.NewReader(out)
	var lines []string
	for {
		ln, err := br.ReadString('\n')
		if err == io.EOF {
			break // a partial last line is dropped: its operation is not known to have returned
		}
		if err != nil {
			t.Fatal(err)
		}
		ln = strings.TrimSuffix(ln, "\n")
		if strings.HasSuffix(ln, "ERR") || strings.Contains(ln, "ERR ") {
			t.Fatalf("run %d: child: %s", run, ln)
		}
		lines = append(lines, ln)
		if len(lines) > n {
			kill()
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("run %d: child exited by itself after %d lines", run, len(lines))
	}
	return lines
}

// verifyCrashLog reopens the log after a kill, checks its content and
// acknowledges a random prefix before closing it cleanly.
func verifyCrashLog(t *testing.T, dir string, run int, r *rand.Rand, printed map[int]int, lastN pos, durable *pos) {
	t.Helper()
	o := crashOptions
	o.Logger = testLogger(t)
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("run %d: reopen: %v", run, err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Fatalf("run %d: close: %v", run, err)
		}
	}()
	var got []pos
	var seqs []uint64
	var prevSeq uint64
	l.Rewind()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := l.next(ctx, 1000, 1<<20, false)
		if err != nil {
			t.Fatalf("run %d: next: %v", run, err)
		}
		if len(b.Records) == 0 {
			break
		}
		for i, rec := range b.Records {
			rr, k, ok := parsePayload(rec)
			if !ok {
				t.Fatalf("run %d: damaged record %q", run, rec)
			}
			seq := b.First + uint64(i)
			if seq <= prevSeq {
				t.Fatalf("run %d: seq %d after %d", run, seq, prevSeq)
			}
			prevSeq = seq
			p := pos{rr, k}
			if n := len(got); n > 0 {
				q := got[n-1]
				if !q.less(p) || q.run == p.run && p.k != q.k+1 {
					t.Fatalf("run %d: record %v after %v (out of order, duplicated or a hole)", run, p, q)
				}
			}
			if !durable.less(p) {
				t.Fatalf("run %d: record %v delivered again after its ack %v was persisted", run, p, *durable)
			}
			got = append(got, p)
			seqs = append(seqs, seq)
		}
	}
	if st := l.Stats(); st.Corrupt != 0 {
		// SIGKILL never tears what write(2) returned; only an interrupted
		// write may leave a partial tail, which is repaired.
		t.Logf("run %d: %d corrupt (torn tail repaired)", run, st.Corrupt)
	}
	if len(got) > 0 && r.IntN(3) == 0 {
		j := r.IntN(len(got))
		if err := l.Ack(seqs[j]); err != nil {
			t.Fatalf("run %d: ack: %v", run, err)
		}
		*durable = got[j]
	}
	present := map[pos]bool{}
	for _, p := range got {
		present[p] = true
		if p.k > printed[p.run] {
			printed[p.run] = p.k // written though never confirmed: now it must stay
		}
	}
	for rr, hi := range printed {
		for k := hi; k >= 0; k-- {
			p := pos{rr, k}
			if !lastN.less(p) || !durable.less(p) {
				break
			}
			if !present[p] {
				t.Fatalf("run %d: acknowledged append %v lost (last handed out %v)", run, p, lastN)
			}
		}
	}
}
