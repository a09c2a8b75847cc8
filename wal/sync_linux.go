package wal

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// quickSync is how fast an fdatasync must have returned for the next one
// to be made as a raw system call.
//
// A system call made the usual way tells the Go runtime it may block; if
// it lasts longer than the runtime's monitor polls (20 µs to 10 ms), the
// monitor hands the thread's P to another thread, and the return takes it
// back. At everyday rates that happened on every commit and kept the
// monitor polling every 20 µs through each one: about 30 % of the
// gateway's CPU at 100 messages/s, more than the fsync itself. A raw call
// keeps the P for the duration, which on a storage that answers in a
// millisecond or two costs nothing. On a storage that is slow, or
// becomes so (another program's writes, a worn card), the first slow
// fsync switches back to the usual call, which lets the rest of the
// gateway run meanwhile; a quick one switches to raw again.
const quickSync = 2 * time.Millisecond

// datasync flushes f's data and the metadata needed to read it back (its
// size), skipping timestamps. quick holds whether the previous call was
// quick (quickSync).
func datasync(f *os.File, quick *atomic.Bool) error {
	fd := f.Fd()
	raw := quick.Load()
	start := time.Now()
	for {
		var err error
		if raw {
			if _, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0); e != 0 {
				err = e
			}
		} else {
			err = syscall.Fdatasync(int(fd))
		}
		if err == syscall.EINTR {
			continue
		}
		quick.Store(err == nil && time.Since(start) < quickSync)
		if err != nil {
			return os.NewSyscallError("fdatasync", err)
		}
		return nil
	}
}
