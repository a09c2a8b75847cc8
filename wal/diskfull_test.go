//go:build linux

package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const envFsizeDir = "TBGW_WAL_FSIZE_DIR"

var fullOptions = Options{SegmentBytes: 1 << 20, MaxBytes: 64 << 20}

// TestFileSizeLimitChild runs in a child whose RLIMIT_FSIZE makes segment
// writes fail with EFBIG, like a full disk, then lifts the limit.
func TestFileSizeLimitChild(t *testing.T) {
	dir := os.Getenv(envFsizeDir)
	if dir == "" {
		t.Skip("child of TestFileSizeLimit")
	}
	signal.Ignore(syscall.SIGXFSZ)
	l, err := Open(dir, fullOptions)
	if err != nil {
		fmt.Printf("FAIL open: %v\n", err)
		os.Exit(2)
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim)
	soft := lim
	soft.Cur = 64 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &soft); err != nil {
		fmt.Printf("FAIL setrlimit: %v\n", err)
		os.Exit(2)
	}
	id := 0
	batch := func() error {
		recs := make([][]byte, 10)
		for i := range recs {
			recs[i] = rec(id + i)
		}
		err := l.Append(recs)
		if err == nil {
			id += 10
			fmt.Printf("A %d\n", id-1)
		}
		return err
	}
	for i := 0; ; i++ {
		if i == 10000 {
			fmt.Printf("FAIL no error under a 64 KiB file size limit\n")
			os.Exit(2)
		}
		if err := batch(); err != nil {
			fmt.Printf("E %v\n", err)
			if !errors.Is(err, syscall.EFBIG) {
				fmt.Printf("FAIL not EFBIG\n")
				os.Exit(2)
			}
			break
		}
	}
	for range 3 {
		if err := batch(); err == nil {
			fmt.Printf("FAIL append succeeded while full\n")
			os.Exit(2)
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Printf("FAIL setrlimit: %v\n", err)
		os.Exit(2)
	}
	for range 20 {
		if err := batch(); err != nil {
			fmt.Printf("FAIL append after the limit was lifted: %v\n", err)
			os.Exit(2)
		}
	}
	if err := l.Close(); err != nil {
		fmt.Printf("FAIL close: %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("DONE\n")
	os.Exit(0)
}

func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileSizeLimitChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFsizeDir+"="+dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), envFsizeDir+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	lastA, sawErr, done := -1, "", false
	for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case strings.HasPrefix(ln, "A "):
			lastA, _ = strconv.Atoi(ln[2:])
		case strings.HasPrefix(ln, "E "):
			sawErr = ln[2:]
		case ln == "DONE":
			done = true
		case strings.HasPrefix(ln, "FAIL"):
			t.Fatalf("child: %s", ln)
		}
	}
	if !done || sawErr == "" {
		t.Fatalf("child output:\n%s", out)
	}
	t.Logf("append error while full: %s", sawErr)
	if !strings.Contains(sawErr, "file too large") || !strings.Contains(sawErr, "wal append") {
		t.Fatalf("error %q does not say what failed", sawErr)
	}
	l := openLog(t, dir, fullOptions)
	items := readPending(t, l)
	if len(items) != lastA+1 {
		t.Fatalf("%d records stored, %d appends succeeded", len(items), lastA+1)
	}
	for i, it := range items {
		if it.id != i || it.seq != uint64(i+1) {
			t.Fatalf("position %d: %+v", i, it)
		}
	}
	if st := l.Stats(); st.Corrupt != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDiskFull fills a small tmpfs: appends fail with ENOSPC, stored
// records stay intact, and appends resume once acknowledged segments are
// removed.
func TestDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	dir := filepath.Join(mnt, "wal")
	o := Options{SegmentBytes: 64 << 10, MaxBytes: 64 << 20}
	l := openLog(t, dir, o)
	id := 0
	var fullErr error
	for i := 0; i < 100000 && fullErr == nil; i++ {
		recs := make([][]byte, 10)
		for k := range recs {
			recs[k] = rec(id + k)
		}
		if err := l.Append(recs); err != nil {
			fullErr = err
		} else {
			id += 10
		}
	}
	if !errors.Is(fullErr, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v", fullErr)
	}
	t.Logf("full after %d records: %v", id, fullErr)
	// Small appends may still fit into the last page; they must either
	// succeed whole or fail cleanly.
	for range 5 {
		if err := l.Append([][]byte{rec(id)}); err == nil {
			id++
		} else if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append on a full disk: %v", err)
		}
	}
	items := readPending(t, l)
	if len(items) != id {
		t.Fatalf("%d records readable, %d appended", len(items), id)
	}
	for i, it := range items {
		if it.id != i {
			t.Fatalf("position %d: %+v", i, it)
		}
	}
	// Deliver half: the segments go, and with them the full disk.
	if err := l.Ack(uint64(id / 2)); err != nil {
		t.Fatal(err)
	}
	resumed := 0
	for k := 0; k < 20; k++ {
		if err := l.Append([][]byte{rec(id + k)}); err != nil {
			t.Fatalf("append after space returned: %v", err)
		}
		resumed++
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, o)
	items = readPending(t, l)
	if len(items) != id-id/2+resumed {
		t.Fatalf("after reopen %d records, want %d", len(items), id-id/2+resumed)
	}
	for i, it := range items {
		if it.id != id/2+i {
			t.Fatalf("after reopen position %d: %+v", i, it)
		}
	}
}
