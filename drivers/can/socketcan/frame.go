package socketcan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Identifier flags and masks of struct can_frame's can_id.
const (
	flagEFF = 0x80000000 // extended frame format (29-bit id)
	flagRTR = 0x40000000 // remote transmission request
	flagERR = 0x20000000 // error frame
	maskSFF = 0x000007ff
	maskEFF = 0x1fffffff
	maskERR = 0x1fffffff
)

// canfd_frame flags.
const (
	fdBRS = 0x01 // bit rate switch
	fdESI = 0x02 // error state indicator
	fdFDF = 0x04 // marks a CAN FD frame (kernel 5.14+ sets it on receive)
)

// Frame sizes: struct can_frame (CAN_MTU) and struct canfd_frame
// (CANFD_MTU).
const (
	MTU   = 16
	FDMTU = 72
)

// Payload limits.
const (
	MaxLen   = 8
	MaxFDLen = 64
)

// Frame is one CAN frame.
type Frame struct {
	ID       uint32 // 11-bit or, when Extended, 29-bit identifier; error class for Err frames
	Extended bool
	RTR      bool // remote request (classic CAN only)
	FD       bool // CAN FD frame
	BRS      bool // FD: data phase at the higher bit rate
	ESI      bool // FD: sender is error passive
	Err      bool // an error frame reported by the driver
	Len      uint8
	Data     [MaxFDLen]byte
}

// Payload returns the frame's data bytes.
func (f *Frame) Payload() []byte { return f.Data[:f.Len] }

// NewFrame builds a data frame.
func NewFrame(id uint32, extended, fd, brs bool, payload []byte) (Frame, error) {
	f := Frame{ID: id, Extended: extended, FD: fd, BRS: brs && fd}
	if err := f.setPayload(payload); err != nil {
		return Frame{}, err
	}
	return f, f.Validate()
}

func (f *Frame) setPayload(p []byte) error {
	limit := MaxLen
	if f.FD {
		limit = MaxFDLen
	}
	if len(p) > limit {
		return fmt.Errorf("%d bytes of data: a %s frame carries at most %d", len(p), f.kind(), limit)
	}
	f.Len = uint8(copy(f.Data[:], p))
	return nil
}

func (f *Frame) kind() string {
	if f.FD {
		return "CAN FD"
	}
	return "classic CAN"
}

// Validate checks the identifier range and the length.
func (f *Frame) Validate() error {
	switch {
	case f.Err:
		return errors.New("cannot send an error frame")
	case f.Extended && f.ID > maskEFF:
		return fmt.Errorf("extended id %#x exceeds 29 bits", f.ID)
	case !f.Extended && f.ID > maskSFF:
		return fmt.Errorf("standard id %#x exceeds 11 bits (set isExtendedId)", f.ID)
	case f.FD && f.RTR:
		return errors.New("CAN FD has no remote frames")
	case f.FD && f.Len > MaxFDLen, !f.FD && f.Len > MaxLen:
		return fmt.Errorf("%d bytes of data in a %s frame", f.Len, f.kind())
	}
	return nil
}

// canID returns the kernel's can_id word.
func (f *Frame) canID() uint32 {
	id := f.ID
	if f.Extended {
		id = id&maskEFF | flagEFF
	} else {
		id &= maskSFF
	}
	if f.RTR {
		id |= flagRTR
	}
	return id
}

// AppendBinary appends the kernel layout of f: struct can_frame (16
// bytes) for classic frames, struct canfd_frame (72 bytes) for FD ones.
func (f *Frame) AppendBinary(b []byte) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return b, err
	}
	size := MTU
	if f.FD {
		size = FDMTU
	}
	start := len(b)
	b = append(b, make([]byte, size)...)
	w := b[start:]
	binary.NativeEndian.PutUint32(w[0:], f.canID())
	w[4] = f.Len
	if f.FD {
		flags := byte(fdFDF)
		if f.BRS {
			flags |= fdBRS
		}
		if f.ESI {
			flags |= fdESI
		}
		w[5] = flags
	}
	copy(w[8:], f.Data[:f.Len])
	return b, nil
}

// UnmarshalBinary reads a struct can_frame or struct canfd_frame, told
// apart by size as the kernel does.
func (f *Frame) UnmarshalBinary(b []byte) error {
	var limit int
	switch len(b) {
	case MTU:
		limit = MaxLen
	case FDMTU:
		limit = MaxFDLen
	default:
		return fmt.Errorf("CAN frame of %d bytes: want %d or %d", len(b), MTU, FDMTU)
	}
	*f = Frame{FD: len(b) == FDMTU}
	id := binary.NativeEndian.Uint32(b[0:])
	n := int(b[4])
	if n > limit {
		return fmt.Errorf("CAN frame length %d exceeds %d", n, limit)
	}
	f.Len = uint8(n)
	copy(f.Data[:], b[8:8+n])
	switch {
	case id&flagERR != 0:
		f.Err, f.ID = true, id&maskERR
	case id&flagEFF != 0:
		f.Extended, f.ID = true, id&maskEFF
	default:
		f.ID = id & maskSFF
	}
	f.RTR = id&flagRTR != 0 && !f.Err && !f.FD
	if f.FD {
		f.BRS = b[5]&fdBRS != 0
		f.ESI = b[5]&fdESI != 0
	}
	return nil
}

// String formats f like candump -L: "123#0102", "1ABCDEF0#..", and for
// FD frames "123##<flags>..", where the flags digit has FDF (4) set.
func (f *Frame) String() string {
	var s strings.Builder
	switch {
	case f.Err:
		fmt.Fprintf(&s, "%08X#", f.ID|flagERR)
	case f.Extended:
		fmt.Fprintf(&s, "%08X#", f.ID)
	default:
		fmt.Fprintf(&s, "%03X#", f.ID)
	}
	if f.FD {
		flags := fdFDF // as written by this package; candump shows it
		if f.BRS {
			flags |= fdBRS
		}
		if f.ESI {
			flags |= fdESI
		}
		fmt.Fprintf(&s, "#%X", flags)
	}
	if f.RTR {
		s.WriteString("R")
		return s.String()
	}
	fmt.Fprintf(&s, "%X", f.Data[:f.Len])
	return s.String()
}
