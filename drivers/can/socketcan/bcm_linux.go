//go:build linux

package socketcan

import (
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BCM opcodes and flags (linux/can/bcm.h).
const (
	bcmTxSetup   = 1
	bcmTxDelete  = 2
	bcmSetTimer  = 0x0001
	bcmStartTime = 0x0002
	bcmAnnounce  = 0x0008
	bcmFDFrame   = 0x0800
)

// bcmTimeval is struct bcm_timeval: two C longs (Go int on Linux).
type bcmTimeval struct{ Sec, Usec int }

// bcmHead is struct bcm_msg_head without its frames.
type bcmHead struct {
	Opcode, Flags, Count uint32
	Ival1, Ival2         bcmTimeval
	CanID, Nframes       uint32
}

// bcmHeadSize is where the frames start: the frames are 8-byte aligned.
var bcmHeadSize = (int(unsafe.Sizeof(bcmHead{})) + 7) &^ 7

// Periodic is a CAN_BCM socket that makes the kernel send one frame at a
// fixed period, with no wake-ups of this process. Closing it stops the
// transmission.
type Periodic struct {
	fd        int
	closeOnce sync.Once
	closeErr  error
}

// StartPeriodic sends f on ifname now and then every period until Close.
func StartPeriodic(ifname string, f Frame, period time.Duration) (*Periodic, error) {
	if period <= 0 {
		return nil, fmt.Errorf("socketcan: period %v must be positive", period)
	}
	ifi, err := upInterface(ifname)
	if err != nil {
		return nil, err
	}
	msg, err := bcmMessage(bcmTxSetup, bcmSetTimer|bcmStartTime|bcmAnnounce, period, &f)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_CAN, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.CAN_BCM)
	if err != nil {
		return nil, os.NewSyscallError("socket(AF_CAN, CAN_BCM)", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrCAN{Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socketcan: %s: %w", ifname, os.NewSyscallError("connect(CAN_BCM)", err))
	}
	if _, err := unix.Write(fd, msg); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socketcan: %s: %w", ifname, os.NewSyscallError("write(TX_SETUP)", err))
	}
	return &Periodic{fd: fd}, nil
}

// bcmMessage builds a bcm_msg_head with one frame.
func bcmMessage(op, flags uint32, period time.Duration, f *Frame) ([]byte, error) {
	if f.FD {
		flags |= bcmFDFrame
	}
	h := bcmHead{Opcode: op, Flags: flags, CanID: f.canID(), Nframes: 1}
	us := period.Microseconds()
	h.Ival2 = bcmTimeval{Sec: int(us / 1e6), Usec: int(us % 1e6)}
	b := make([]byte, bcmHeadSize)
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), unsafe.Sizeof(h)))
	return f.AppendBinary(b)
}

// Close stops the transmission and closes the socket; it may be called
// more than once.
func (p *Periodic) Close() error {
	p.closeOnce.Do(func() { p.closeErr = unix.Close(p.fd) })
	return p.closeErr
}
