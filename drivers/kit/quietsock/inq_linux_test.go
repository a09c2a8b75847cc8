//go:build linux

package quietsock

import "golang.org/x/sys/unix"

// unixIoctlInq is the bytes queued for reading on a TCP socket (SIOCINQ).
func unixIoctlInq(fd int) (int, error) { return unix.IoctlGetInt(fd, unix.SIOCINQ) }
