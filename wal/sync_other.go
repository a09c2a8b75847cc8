//go:build !linux

package wal

import (
	"os"
	"sync/atomic"
)

// datasync flushes f; without fdatasync this is a full fsync.
func datasync(f *os.File, _ *atomic.Bool) error { return f.Sync() }
