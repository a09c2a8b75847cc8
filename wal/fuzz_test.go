package wal

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzOpen puts arbitrary bytes where a segment file belongs, once as the
// last segment (repaired by Open) and once as a sealed one (read through
// tidwall and repaired by the reader), and checks the log opens, reads
// without panicking and still appends.
func FuzzOpen(f *testing.F) {
	img, ends := image(1, 8)
	f.Add(img)
	f.Add(img[:ends[3]-2])
	g := bytes.Clone(img)
	g[ends[1]+3] ^= 0x55
	f.Add(g)
	f.Add([]byte("not a segment"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, sealed := range []bool{false, true} {
			dir := fuzzDir(t)
			seg := filepath.Join(dir, segName(1))
			if err := os.MkdirAll(seg, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(seg, segFile), b, 0o640); err != nil {
				t.Fatal(err)
			}
			if sealed {
				next := filepath.Join(dir, segName(1000))
				os.MkdirAll(next, 0o750)
				os.WriteFile(filepath.Join(next, segFile),
					appendEntry(nil, appendHeader(nil, header{version: FormatVersion, first: 1000})), 0o640)
			}
			l, err := Open(dir, Options{Sync: SyncNever})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for range 2000 {
				b, err := l.next(ctx, 100, 1<<20, false)
				if err != nil {
					t.Fatalf("next: %v", err)
				}
				if len(b.Records) == 0 {
					break
				}
			}
			if err := l.Append([][]byte{[]byte("after")}); err != nil {
				t.Fatalf("append: %v", err)
			}
			bt, err := l.Next(ctx, 100, 1<<20)
			cancel()
			if err != nil || string(bt.Records[len(bt.Records)-1]) != "after" {
				t.Fatalf("read back: %v %q", err, bt.Records)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
	})
}

// fuzzDir is a fresh directory, in memory where possible: fsync on a busy
// disk can stall a fuzz worker long enough to be reported as hung.
func fuzzDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "tbgw-wal-fuzz-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
