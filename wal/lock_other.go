//go:build !unix

package wal

import (
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK: advisory locks are not supported on this
// GOOS.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
}
