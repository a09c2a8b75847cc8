package modbus

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// serialStream adapts a go.bug.st/serial port to the deadline-driven
// stream the framings use. Reads wait in short slices so that moving the
// deadline (cancellation) takes effect within readSlice.
type serialStream struct {
	port     serial.Port
	deadline atomic.Int64 // Unix ns; 0: none
	closed   atomic.Bool
}

const readSlice = 50 * time.Millisecond

func openSerial(path string, m serialMode) (*serialStream, error) {
	mode := &serial.Mode{BaudRate: m.baud, DataBits: m.dataBits}
	switch m.parity {
	case 'E':
		mode.Parity = serial.EvenParity
	case 'O':
		mode.Parity = serial.OddParity
	case 'M':
		mode.Parity = serial.MarkParity
	case 'S':
		mode.Parity = serial.SpaceParity
	default:
		mode.Parity = serial.NoParity
	}
	switch m.stopBits {
	case 1.5:
		mode.StopBits = serial.OnePointFiveStopBits
	case 2:
		mode.StopBits = serial.TwoStopBits
	default:
		mode.StopBits = serial.OneStopBit
	}
	p, err := serial.Open(path, mode)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, err)
	}
	return &serialStream{port: p}, nil
}

func (s *serialStream) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		s.deadline.Store(0)
	} else {
		s.deadline.Store(t.UnixNano())
	}
	return nil
}

func (s *serialStream) Read(p []byte) (int, error) {
	for {
		if s.closed.Load() {
			return 0, os.ErrClosed
		}
		wait := readSlice
		if d := s.deadline.Load(); d != 0 {
			left := time.Until(time.Unix(0, d))
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			wait = min(wait, left)
		}
		if err := s.port.SetReadTimeout(wait); err != nil {
			return 0, err
		}
		n, err := s.port.Read(p)
		if n > 0 || err != nil {
			var pe *serial.PortError
			if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
				return n, os.ErrClosed
			}
			return n, err
		}
	}
}

func (s *serialStream) Write(p []byte) (int, error) {
	if s.closed.Load() {
		return 0, os.ErrClosed
	}
	n, err := s.port.Write(p)
	if err == nil && n < len(p) {
		// The port is non-blocking underneath; finish a short write.
		for n < len(p) && err == nil {
			var m int
			m, err = s.port.Write(p[n:])
			n += m
		}
	}
	return n, err
}

// flush drops unread input (noise, late answers of timed-out requests).
func (s *serialStream) flush() { _ = s.port.ResetInputBuffer() }

func (s *serialStream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.port.Close()
}
