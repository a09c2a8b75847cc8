package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// Both ways of calling fdatasync flush and report errors; a quick one
// makes the next raw, a failed one does not.
func TestDatasyncRawAndUsual(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	var quick atomic.Bool
	for i := range 20 {
		if _, err := f.Write([]byte("record")); err != nil {
			t.Fatal(err)
		}
		raw := quick.Load()
		if err := datasync(f, &quick); err != nil {
			t.Fatalf("call %d (raw %v): %v", i, raw, err)
		}
		if quick.Load() && raw {
			// A raw call that was quick again: the fast path holds.
			break
		}
	}
	// A pipe cannot be synced: EINVAL either way, and the next call is
	// not raw.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, raw := range []bool{false, true} {
		quick.Store(raw)
		if err := datasync(w, &quick); !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("raw %v: %v", raw, err)
		}
		if quick.Load() {
			t.Fatalf("raw %v: a failed fdatasync left the next one raw", raw)
		}
	}
	f.Close()
}
