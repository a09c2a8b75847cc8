//go:build !linux

package bluetooth

import (
	"context"
	"errors"
	"time"
)

// Adapter is a local controller (Linux only).
type Adapter struct {
	Info
	Refresh        time.Duration
	Passive        bool
	Window, Period time.Duration
}

// Channel is an ATT channel (Linux only).
type Channel struct {
	Remote     Addr
	RemoteType AddrType
}

// Listener accepts ATT connections (Linux only).
type Listener struct{}

func unsupported() error { return errors.ErrUnsupported }

func Controllers(context.Context) ([]int, error)                                { return nil, unsupported() }
func OpenAdapter(context.Context, int) (*Adapter, error)                        { return nil, unsupported() }
func (a *Adapter) Close() error                                                 { return nil }
func (a *Adapter) String() string                                               { return "unsupported" }
func (a *Adapter) PowerOn(context.Context) error                                { return unsupported() }
func (a *Adapter) Scan(context.Context, func(Found)) error                      { return unsupported() }
func (a *Adapter) Advertise(context.Context, uint8, []byte, []byte, bool) error { return unsupported() }
func (a *Adapter) StopAdvertising(context.Context, uint8) error                 { return unsupported() }
func (a *Adapter) SetStaticAddress(context.Context, Addr) error                 { return unsupported() }
func (a *Adapter) SetPrivacy(context.Context, [16]byte) error                   { return unsupported() }
func (a *Adapter) Dial(context.Context, Addr, AddrType) (*Channel, error)       { return nil, unsupported() }
func (a *Adapter) ListenATT(context.Context) (*Listener, error)                 { return nil, unsupported() }
func (a *Adapter) Identity(context.Context) (Addr, AddrType, error)             { return Addr{}, 0, unsupported() }
func (l *Listener) Close() error                                                { return nil }
func (l *Listener) Accept(context.Context) (*Channel, error)                    { return nil, unsupported() }
func (c *Channel) ReadPDU(context.Context, []byte) (int, error)                 { return 0, unsupported() }
func (c *Channel) WritePDU(context.Context, []byte) error                       { return unsupported() }
func (c *Channel) Close() error                                                 { return nil }
func (c *Channel) SetReadBuffer(int) error                                      { return unsupported() }
func (c *Channel) Drops() (uint64, error)                                       { return 0, unsupported() }
