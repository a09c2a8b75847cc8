package rig

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNoSmallFS means a small filesystem cannot be mounted here (not root,
// or no tmpfs); scenarios needing one are skipped.
var ErrNoSmallFS = errors.New("cannot mount a small filesystem (needs root and tmpfs)")

// SmallFS is a tmpfs of a fixed size, to fill up.
type SmallFS struct {
	Dir     string
	mounted bool
}

// MountSmallFS mounts a tmpfs of size bytes on dir (created).
func MountSmallFS(dir string, size int64) (*SmallFS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.FormatInt(size, 10)); err != nil {
		return nil, fmt.Errorf("%w: mount tmpfs on %s: %v", ErrNoSmallFS, dir, err)
	}
	return &SmallFS{Dir: dir, mounted: true}, nil
}

// Free returns the bytes available.
func (s *SmallFS) Free() int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(s.Dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Unmount unmounts it (lazily if busy). Idempotent.
func (s *SmallFS) Unmount() error {
	if !s.mounted {
		return nil
	}
	s.mounted = false
	if err := unix.Unmount(s.Dir, 0); err != nil {
		return unix.Unmount(s.Dir, unix.MNT_DETACH)
	}
	return nil
}
