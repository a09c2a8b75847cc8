package mqtt

import "syscall"

func getsockoptInt(fd, level, opt int) (int, error) { return syscall.GetsockoptInt(fd, level, opt) }
