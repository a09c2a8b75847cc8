package bluetooth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tbgw/tbgw/codec/att"
)

// Bearer carries ATT PDUs: one PDU per read and per write (an L2CAP LE
// channel on the ATT fixed channel).
type Bearer interface {
	ReadPDU(ctx context.Context, b []byte) (int, error)
	WritePDU(ctx context.Context, b []byte) error
	Close() error
}

// Characteristic is a discovered characteristic.
type Characteristic struct {
	Service att.UUID
	UUID    att.UUID
	Props   att.Props
	Decl    uint16 // declaration handle
	Value   uint16 // value handle
	End     uint16 // last handle of the characteristic (its descriptors)
	CCCD    uint16 // client characteristic configuration descriptor, 0 if none
}

// Service is a discovered primary service.
type Service struct {
	UUID            att.UUID
	Start, End      uint16
	Characteristics []*Characteristic
}

// ErrLinkLost is wrapped by errors of a connection whose link went away.
var ErrLinkLost = errors.New("link lost")

// Client is a GATT client on one ATT bearer. Serve must run while
// requests are made; it also delivers notifications and indications.
// Requests are serialised (ATT allows one outstanding request).
type Client struct {
	b       Bearer
	mtu     atomic.Int32
	reqMu   sync.Mutex
	longMu  sync.Mutex // one long write at a time: the peer has one queue
	pmu     sync.Mutex
	waiting chan []byte // the pending request's response, nil when none
	done    chan struct{}
	once    sync.Once
	err     error // set before done is closed
	onValue func(handle uint16, value []byte)

	Services []*Service
}

// NewClient wraps a connected bearer. onValue receives notification and
// indication values (a copy) on Serve's goroutine; it must not block long.
func NewClient(b Bearer, onValue func(handle uint16, value []byte)) *Client {
	c := &Client{b: b, done: make(chan struct{}), onValue: onValue}
	c.mtu.Store(att.DefaultMTU)
	return c
}

// MTU is the agreed ATT MTU.
func (c *Client) MTU() int { return int(c.mtu.Load()) }

// Done is closed when the connection ended; Err then tells why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is up or after Close).
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

func (c *Client) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		c.b.Close()
	})
}

// Close closes the connection. It is idempotent.
func (c *Client) Close() error {
	c.fail(nil)
	return nil
}

// Serve reads PDUs until ctx ends (returns nil, the connection is closed)
// or the link fails (returns an error wrapping ErrLinkLost).
func (c *Client) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { c.fail(nil) })
	defer stop()
	buf := make([]byte, att.MaxMTU+1)
	for {
		n, err := c.b.ReadPDU(ctx, buf)
		if err != nil {
			select {
			case <-c.done:
				return c.err
			default:
			}
			if ctx.Err() != nil {
				c.fail(nil)
				return nil
			}
			err = fmt.Errorf("%w: %v", ErrLinkLost, err)
			c.fail(err)
			return err
		}
		if n == 0 {
			continue
		}
		c.handle(ctx, buf[:n])
	}
}

func (c *Client) handle(ctx context.Context, pdu []byte) {
	op := att.Opcode(pdu[0])
	switch {
	case op.IsResponse():
		c.pmu.Lock()
		if c.waiting != nil {
			c.waiting <- append([]byte(nil), pdu...)
			c.waiting = nil
		}
		c.pmu.Unlock()
	case op == att.OpNotify || op == att.OpIndicate:
		p, err := att.Decode(pdu)
		if err != nil {
			return
		}
		hv := p.(*att.HandleValuePDU)
		if c.onValue != nil {
			c.onValue(hv.Handle, append([]byte(nil), hv.Value...))
		}
		if op == att.OpIndicate {
			_ = c.b.WritePDU(ctx, []byte{byte(att.OpConfirm)})
		}
	case op.IsRequest():
		// The peer's own GATT client (BlueZ discovers every device it
		// connects to): this side has no attributes.
		var rsp att.PDU = &att.ErrorRsp{Req: op, Code: att.ErrRequestNotSupported}
		switch op {
		case att.OpMTUReq:
			if p, err := att.Decode(pdu); err == nil {
				c.setMTU(int(p.(*att.MTUReq).MTU))
			}
			rsp = &att.MTURsp{MTU: att.MaxMTU}
		case att.OpReadByGroupReq, att.OpReadByTypeReq, att.OpFindInfoReq, att.OpFindByTypeValueReq:
			rsp = &att.ErrorRsp{Req: op, Code: att.ErrAttributeNotFound, Handle: 1}
			if len(pdu) >= 3 {
				rsp.(*att.ErrorRsp).Handle = uint16(pdu[1]) | uint16(pdu[2])<<8
			}
		}
		_ = c.b.WritePDU(ctx, att.Encode(rsp))
	}
}

func (c *Client) setMTU(peer int) {
	m := min(max(peer, att.DefaultMTU), att.MaxMTU)
	c.mtu.Store(int32(m))
}

// request sends req and returns the decoded response. An Error Response is
// returned as *att.ErrorRsp error. A request that times out leaves the
// bearer unusable (ATT has no cancel), so the connection is closed.
func (c *Client) request(ctx context.Context, req att.PDU) (att.PDU, error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	select {
	case <-c.done:
		return nil, c.closedErr()
	default:
	}
	ch := make(chan []byte, 1)
	c.pmu.Lock()
	c.waiting = ch
	c.pmu.Unlock()
	clear := func() {
		c.pmu.Lock()
		c.waiting = nil
		c.pmu.Unlock()
	}
	if err := c.b.WritePDU(ctx, att.Encode(req)); err != nil {
		clear()
		if ctx.Err() == nil {
			err = fmt.Errorf("%w: %v", ErrLinkLost, err)
			c.fail(err)
		}
		return nil, fmt.Errorf("%v: %w", req.Op(), err)
	}
	var raw []byte
	select {
	case raw = <-ch:
	case <-c.done:
		clear()
		return nil, fmt.Errorf("%v: %w", req.Op(), c.closedErr())
	case <-ctx.Done():
		clear()
		c.fail(fmt.Errorf("%w: %v timed out", ErrLinkLost, req.Op()))
		return nil, fmt.Errorf("%v: %w", req.Op(), ctx.Err())
	}
	rsp, err := att.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%v: bad response: %w", req.Op(), err)
	}
	if e, ok := rsp.(*att.ErrorRsp); ok {
		return nil, e
	}
	if rsp.Op() != req.Op()+1 {
		return nil, fmt.Errorf("%v: answered with %v", req.Op(), rsp.Op())
	}
	return rsp, nil
}

func (c *Client) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return errors.New("connection closed")
}

// ExchangeMTU proposes mtu and keeps the smaller of both sides' values.
func (c *Client) ExchangeMTU(ctx context.Context, mtu int) error {
	rsp, err := c.request(ctx, &att.MTUReq{MTU: uint16(min(max(mtu, att.DefaultMTU), att.MaxMTU))})
	if err != nil {
		return err
	}
	c.setMTU(min(mtu, int(rsp.(*att.MTURsp).MTU)))
	return nil
}

func notFound(err error) bool {
	var e *att.ErrorRsp
	return errors.As(err, &e) && e.Code == att.ErrAttributeNotFound
}

// Discover finds all primary services, their characteristics and CCCDs.
func (c *Client) Discover(ctx context.Context) error {
	var svcs []*Service
	for start := uint16(1); ; {
		rsp, err := c.request(ctx, &att.ReadByGroupReq{Range: att.Range{Start: start, End: 0xFFFF}, Type: att.PrimaryService})
		if notFound(err) {
			break
		}
		if err != nil {
			return fmt.Errorf("discover services: %w", err)
		}
		last := start
		for _, e := range rsp.(*att.ReadByGroupRsp).Entries {
			u, err := att.ParseServiceDecl(e.Value)
			if err != nil || e.End < e.Start || e.Start < start {
				return fmt.Errorf("discover services: bad service at 0x%04x: %v", e.Start, err)
			}
			svcs = append(svcs, &Service{UUID: u, Start: e.Start, End: e.End})
			last = e.End
		}
		if last == 0xFFFF {
			break
		}
		start = last + 1
	}
	for _, s := range svcs {
		if err := c.discoverChars(ctx, s); err != nil {
			return err
		}
	}
	c.Services = svcs
	return nil
}

func (c *Client) discoverChars(ctx context.Context, s *Service) error {
	for start := s.Start; start <= s.End; {
		rsp, err := c.request(ctx, &att.ReadByTypeReq{Range: att.Range{Start: start, End: s.End}, Type: att.Characteristic})
		if notFound(err) {
			break
		}
		if err != nil {
			return fmt.Errorf("discover characteristics of %v: %w", s.UUID, err)
		}
		last := start
		for _, e := range rsp.(*att.ReadByTypeRsp).Entries {
			d, err := att.ParseCharDecl(e.Value)
			if err != nil || e.Handle < start || e.Handle > s.End {
				return fmt.Errorf("discover characteristics of %v: bad declaration at 0x%04x: %v", s.UUID, e.Handle, err)
			}
			s.Characteristics = append(s.Characteristics, &Characteristic{
				Service: s.UUID, UUID: d.UUID, Props: d.Props, Decl: e.Handle, Value: d.ValueHandle, End: s.End})
			last = e.Handle
		}
		if last >= s.End {
			break
		}
		start = last + 1
	}
	for i, ch := range s.Characteristics {
		if i+1 < len(s.Characteristics) {
			ch.End = s.Characteristics[i+1].Decl - 1
		}
		if ch.Props&(att.PropNotify|att.PropIndicate) == 0 || ch.Value >= ch.End {
			continue
		}
		for start := ch.Value + 1; start <= ch.End && ch.CCCD == 0; {
			rsp, err := c.request(ctx, &att.FindInfoReq{Range: att.Range{Start: start, End: ch.End}})
			if notFound(err) {
				break
			}
			if err != nil {
				return fmt.Errorf("discover descriptors of %v: %w", ch.UUID, err)
			}
			last := start
			for _, e := range rsp.(*att.FindInfoRsp).Entries {
				if e.Type == att.ClientConfig {
					ch.CCCD = e.Handle
				}
				last = max(last, e.Handle)
			}
			if last >= ch.End {
				break
			}
			start = last + 1
		}
	}
	return nil
}

// Find returns the first characteristic with uuid, or nil.
func (c *Client) Find(uuid att.UUID) *Characteristic {
	for _, s := range c.Services {
		for _, ch := range s.Characteristics {
			if ch.UUID == uuid {
				return ch
			}
		}
	}
	return nil
}

// ByHandle returns the characteristic whose value handle is h, or nil.
func (c *Client) ByHandle(h uint16) *Characteristic {
	for _, s := range c.Services {
		for _, ch := range s.Characteristics {
			if ch.Value == h {
				return ch
			}
		}
	}
	return nil
}

// Read reads a value, with Read Blob requests for long values (at most 512
// bytes).
func (c *Client) Read(ctx context.Context, handle uint16) ([]byte, error) {
	rsp, err := c.request(ctx, &att.ReadReq{Handle: handle})
	if err != nil {
		return nil, err
	}
	v := append([]byte(nil), rsp.(*att.ValuePDU).Value...)
	for len(v) < 512 && len(rsp.(*att.ValuePDU).Value) == c.MTU()-1 {
		rsp, err = c.request(ctx, &att.ReadBlobReq{Handle: handle, Offset: uint16(len(v))})
		var e *att.ErrorRsp
		if errors.As(err, &e) && (e.Code == att.ErrAttributeNotLong || e.Code == att.ErrInvalidOffset) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rsp.(*att.ValuePDU).Value) == 0 {
			break
		}
		v = append(v, rsp.(*att.ValuePDU).Value...)
	}
	return v, nil
}

// Write writes a value with a Write Request (withResponse) or a Write
// Command. A value longer than one PDU carries (MTU-3 bytes, up to 512
// bytes) is written with Prepare Write Requests and an Execute Write
// Request (a long write), which needs withResponse: a Write Command has
// no long form.
func (c *Client) Write(ctx context.Context, handle uint16, value []byte, withResponse bool) error {
	if len(value) > att.MaxValue {
		return fmt.Errorf("value of %d bytes: an attribute value is at most %d bytes", len(value), att.MaxValue)
	}
	if len(value) > c.MTU()-3 {
		if !withResponse {
			return fmt.Errorf("value of %d bytes does not fit a Write Command (ATT MTU %d); a long write needs a response", len(value), c.MTU())
		}
		return c.writeLong(ctx, handle, value)
	}
	if !withResponse {
		select {
		case <-c.done:
			return c.closedErr()
		default:
		}
		return c.b.WritePDU(ctx, att.Encode(&att.HandleValuePDU{Code: att.OpWriteCmd, Handle: handle, Value: value}))
	}
	_, err := c.request(ctx, &att.HandleValuePDU{Code: att.OpWriteReq, Handle: handle, Value: value})
	return err
}

// writeLong queues the value in parts of MTU-5 bytes and executes the
// queue. Every part must come back unchanged in the Prepare Write
// Response (the spec's check against corruption); on any failure the
// peer's queue is cancelled, so nothing of the value is written.
func (c *Client) writeLong(ctx context.Context, handle uint16, value []byte) error {
	c.longMu.Lock()
	defer c.longMu.Unlock()
	part := c.MTU() - 5
	for off := 0; off < len(value); off += part {
		v := value[off:min(off+part, len(value))]
		rsp, err := c.request(ctx, &att.PrepareWrite{Code: att.OpPrepareWriteReq, Handle: handle, Offset: uint16(off), Value: v})
		if err == nil {
			if r := rsp.(*att.PrepareWrite); r.Handle != handle || int(r.Offset) != off || !bytes.Equal(r.Value, v) {
				err = fmt.Errorf("%v at offset %d: the response does not echo the request (handle 0x%04x offset %d, %d bytes)",
					att.OpPrepareWriteReq, off, r.Handle, r.Offset, len(r.Value))
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				_, _ = c.request(ctx, &att.ExecuteWriteReq{Flags: att.ExecuteCancel})
			}
			return err
		}
	}
	_, err := c.request(ctx, &att.ExecuteWriteReq{Flags: att.ExecuteWrite})
	return err
}

// Subscribe enables notifications (or indications) of ch through its CCCD.
func (c *Client) Subscribe(ctx context.Context, ch *Characteristic) error {
	if ch.CCCD == 0 {
		return fmt.Errorf("characteristic %v has no client configuration descriptor", ch.UUID)
	}
	v := att.CCCNotify
	if ch.Props&att.PropNotify == 0 {
		v = att.CCCIndicate
	}
	return c.Write(ctx, ch.CCCD, []byte{byte(v), byte(v >> 8)}, true)
}
