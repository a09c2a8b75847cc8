//go:build !linux

package socketcan

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

var errNoSocketCAN = fmt.Errorf("socketcan: SocketCAN is Linux only, not %s/%s", runtime.GOOS, runtime.GOARCH)

// Conn is a CAN_RAW socket; on this system it cannot be opened.
type Conn struct{}

// Open fails: SocketCAN is Linux only.
func Open(ifname string, o Options) (*Conn, error) { return nil, errNoSocketCAN }

// Name is the interface name.
func (c *Conn) Name() string { return "" }

// Read fails.
func (c *Conn) Read(ctx context.Context, frames []Frame) (int, error) { return 0, errNoSocketCAN }

// Write fails.
func (c *Conn) Write(ctx context.Context, f *Frame) error { return errNoSocketCAN }

// Close does nothing.
func (c *Conn) Close() error { return nil }

// Dropped is zero.
func (c *Conn) Dropped() uint64 { return 0 }

// Periodic is a CAN_BCM transmission; on this system it cannot start.
type Periodic struct{}

// StartPeriodic fails: SocketCAN is Linux only.
func StartPeriodic(ifname string, f Frame, period time.Duration) (*Periodic, error) {
	return nil, errNoSocketCAN
}

// Close does nothing.
func (p *Periodic) Close() error { return nil }
