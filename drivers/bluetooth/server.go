package bluetooth

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/tbgw/tbgw/codec/att"
)

// ServerChar is a characteristic of a Server.
type ServerChar struct {
	UUID  att.UUID
	Props att.Props
	// OnWrite, if set, is called with every value written by a client
	// (after it was stored).
	OnWrite func(v []byte)

	value        []byte
	decl, handle uint16
	cccd         uint16
	writes       int
}

// ServerService is a primary service of a Server.
type ServerService struct {
	UUID  att.UUID
	Chars []*ServerChar
}

type attr struct {
	handle uint16
	typ    att.UUID
	group  uint16 // end of group for service declarations
	value  []byte // static value; nil for characteristic values and CCCDs
	char   *ServerChar
}

// Server is a minimal GATT server: one attribute table served to any
// number of ATT bearers. It is meant for test peripherals and beacons, not
// as a general-purpose peripheral stack (no security).
type Server struct {
	// MTU is the ATT MTU the server offers in an MTU exchange (at least
	// 23); 0 offers the largest, 517. Set it before serving.
	MTU int

	mu    sync.Mutex
	attrs []attr
	conns map[*serverConn]struct{}
}

type serverConn struct {
	b     Bearer
	mtu   int
	sub   map[*ServerChar]uint16 // CCCD value
	queue []prepared             // Prepare Write Requests not yet executed
}

// prepared is one queued part of a long write.
type prepared struct {
	char   *ServerChar
	offset int
	value  []byte
}

// maxQueue bounds a connection's prepare queue (Prepare Queue Full
// beyond): enough for a 512-byte value at the default MTU.
const maxQueue = 32

// Writes is how many writes (Write Requests, Write Commands, executed long
// writes) changed c's value.
func (s *Server) Writes(c *ServerChar) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.writes
}

// NewServer lays out the attribute table.
func NewServer(svcs ...*ServerService) *Server {
	s := &Server{conns: map[*serverConn]struct{}{}}
	h := uint16(1)
	for _, sv := range svcs {
		si := len(s.attrs)
		s.attrs = append(s.attrs, attr{handle: h, typ: att.PrimaryService, value: sv.UUID.Wire()})
		h++
		for _, c := range sv.Chars {
			c.decl, c.handle = h, h+1
			s.attrs = append(s.attrs,
				attr{handle: h, typ: att.Characteristic, value: att.CharDecl{Props: c.Props, ValueHandle: h + 1, UUID: c.UUID}.Append(nil)},
				attr{handle: h + 1, typ: c.UUID, char: c})
			h += 2
			if c.Props&(att.PropNotify|att.PropIndicate) != 0 {
				c.cccd = h
				s.attrs = append(s.attrs, attr{handle: h, typ: att.ClientConfig, char: c})
				h++
			}
		}
		s.attrs[si].group = h - 1
	}
	return s
}

// Handle is the value handle of c.
func (c *ServerChar) Handle() uint16 { return c.handle }

// Value returns c's current value.
func (s *Server) Value(c *ServerChar) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), c.value...)
}

// Subscribers is how many connections enabled notifications or
// indications of c.
func (s *Server) Subscribers(c *ServerChar) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sc := range s.conns {
		if sc.sub[c] != 0 {
			n++
		}
	}
	return n
}

// Set stores a value and notifies (or indicates) it to every connection
// that subscribed. It returns how many connections it was sent to.
func (s *Server) Set(ctx context.Context, c *ServerChar, v []byte) int {
	s.mu.Lock()
	c.value = append([]byte(nil), v...)
	type target struct {
		b   Bearer
		pdu []byte
	}
	var ts []target
	for sc := range s.conns {
		cfg := sc.sub[c]
		if cfg == 0 {
			continue
		}
		op := att.OpNotify
		if cfg&att.CCCNotify == 0 {
			op = att.OpIndicate
		}
		val := v
		if len(val) > sc.mtu-3 {
			val = val[:sc.mtu-3]
		}
		ts = append(ts, target{sc.b, att.Encode(&att.HandleValuePDU{Code: op, Handle: c.handle, Value: val})})
	}
	s.mu.Unlock()
	n := 0
	for _, t := range ts {
		if t.b.WritePDU(ctx, t.pdu) == nil {
			n++
		}
	}
	return n
}

// Serve answers one bearer's requests until it fails or ctx ends; the
// bearer is closed on return.
func (s *Server) Serve(ctx context.Context, b Bearer) error {
	defer b.Close()
	stop := context.AfterFunc(ctx, func() { b.Close() })
	defer stop()
	sc := &serverConn{b: b, mtu: att.DefaultMTU, sub: map[*ServerChar]uint16{}}
	s.mu.Lock()
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
	}()
	buf := make([]byte, att.MaxMTU+1)
	for {
		n, err := b.ReadPDU(ctx, buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		rsp, written := s.answer(sc, buf[:n])
		if rsp != nil {
			if err := b.WritePDU(ctx, rsp); err != nil {
				return err
			}
		}
		for _, c := range written {
			if c.OnWrite != nil {
				c.OnWrite(s.Value(c))
			}
		}
	}
}

func errRsp(op att.Opcode, h uint16, code att.ErrorCode) []byte {
	return att.Encode(&att.ErrorRsp{Req: op, Handle: h, Code: code})
}

// answer returns the response to one PDU (nil for none) and the
// characteristics whose values were written.
func (s *Server) answer(sc *serverConn, pdu []byte) ([]byte, []*ServerChar) {
	op := att.Opcode(pdu[0])
	p, err := att.Decode(pdu)
	if err != nil {
		if op.IsRequest() {
			return errRsp(op, 0, att.ErrInvalidPDU), nil
		}
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r := p.(type) {
	case *att.MTUReq:
		own := att.MaxMTU
		if s.MTU != 0 {
			own = min(max(s.MTU, att.DefaultMTU), att.MaxMTU)
		}
		sc.mtu = min(max(int(r.MTU), att.DefaultMTU), own)
		return att.Encode(&att.MTURsp{MTU: uint16(own)}), nil
	case *att.ReadByGroupReq:
		if r.Type != att.PrimaryService {
			return errRsp(op, r.Start, att.ErrUnsupportedGroupType), nil
		}
		out := &att.ReadByGroupRsp{}
		size := 2
		for _, a := range s.attrs {
			if a.typ != att.PrimaryService || a.handle < r.Start || a.handle > r.End {
				continue
			}
			if len(out.Entries) > 0 && len(a.value) != len(out.Entries[0].Value) || size+4+len(a.value) > sc.mtu {
				break
			}
			out.Entries = append(out.Entries, att.GroupValue{Range: att.Range{Start: a.handle, End: a.group}, Value: a.value})
			size += 4 + len(a.value)
		}
		if len(out.Entries) == 0 {
			return errRsp(op, r.Start, att.ErrAttributeNotFound), nil
		}
		return att.Encode(out), nil
	case *att.ReadByTypeReq:
		out := &att.ReadByTypeRsp{}
		size := 2
		for _, a := range s.attrs {
			if a.typ != r.Type || a.handle < r.Start || a.handle > r.End {
				continue
			}
			v := s.read(sc, a)
			if len(v) > sc.mtu-4 {
				v = v[:sc.mtu-4]
			}
			if len(out.Entries) > 0 && len(v) != len(out.Entries[0].Value) || size+2+len(v) > sc.mtu {
				break
			}
			out.Entries = append(out.Entries, att.HandleValue{Handle: a.handle, Value: v})
			size += 2 + len(v)
		}
		if len(out.Entries) == 0 {
			return errRsp(op, r.Start, att.ErrAttributeNotFound), nil
		}
		return att.Encode(out), nil
	case *att.FindInfoReq:
		out := &att.FindInfoRsp{}
		size := 2
		for _, a := range s.attrs {
			if a.handle < r.Start || a.handle > r.End {
				continue
			}
			if len(out.Entries) > 0 && a.typ.Is16() != out.Entries[0].Type.Is16() || size+2+a.typ.Len() > sc.mtu {
				break
			}
			out.Entries = append(out.Entries, att.HandleType{Handle: a.handle, Type: a.typ})
			size += 2 + a.typ.Len()
		}
		if len(out.Entries) == 0 {
			return errRsp(op, r.Start, att.ErrAttributeNotFound), nil
		}
		return att.Encode(out), nil
	case *att.ReadReq, *att.ReadBlobReq:
		h, off := uint16(0), 0
		code := att.OpReadRsp
		if rr, ok := r.(*att.ReadReq); ok {
			h = rr.Handle
		} else {
			rb := r.(*att.ReadBlobReq)
			h, off, code = rb.Handle, int(rb.Offset), att.OpReadBlobRsp
		}
		a := s.find(h)
		if a == nil {
			return errRsp(op, h, att.ErrInvalidHandle), nil
		}
		if a.char != nil && a.typ == a.char.UUID && a.char.Props&att.PropRead == 0 {
			return errRsp(op, h, att.ErrReadNotPermitted), nil
		}
		v := s.read(sc, *a)
		if off > len(v) {
			return errRsp(op, h, att.ErrInvalidOffset), nil
		}
		v = v[off:]
		if len(v) > sc.mtu-1 {
			v = v[:sc.mtu-1]
		}
		return att.Encode(&att.ValuePDU{Code: code, Value: v}), nil
	case *att.HandleValuePDU:
		if op != att.OpWriteReq && op != att.OpWriteCmd {
			return nil, nil
		}
		a := s.find(r.Handle)
		fail := func(code att.ErrorCode) ([]byte, []*ServerChar) {
			if op == att.OpWriteCmd {
				return nil, nil
			}
			return errRsp(op, r.Handle, code), nil
		}
		switch {
		case a == nil:
			return fail(att.ErrInvalidHandle)
		case a.char != nil && a.typ == att.ClientConfig:
			if len(r.Value) != 2 {
				return fail(att.ErrInvalidValueLength)
			}
			sc.sub[a.char] = binary.LittleEndian.Uint16(r.Value)
			if op == att.OpWriteCmd {
				return nil, nil
			}
			return att.Encode(&att.Empty{Code: att.OpWriteRsp}), nil
		case a.char != nil && a.typ == a.char.UUID && a.char.Props&(att.PropWrite|att.PropWriteNoResp) != 0:
			a.char.value = append([]byte(nil), r.Value...)
			a.char.writes++
			if op == att.OpWriteCmd {
				return nil, []*ServerChar{a.char}
			}
			return att.Encode(&att.Empty{Code: att.OpWriteRsp}), []*ServerChar{a.char}
		}
		return fail(att.ErrWriteNotPermitted)
	case *att.PrepareWrite:
		if op != att.OpPrepareWriteReq {
			return nil, nil
		}
		a := s.find(r.Handle)
		switch {
		case a == nil:
			return errRsp(op, r.Handle, att.ErrInvalidHandle), nil
		case a.char == nil || a.typ != a.char.UUID || a.char.Props&att.PropWrite == 0:
			return errRsp(op, r.Handle, att.ErrWriteNotPermitted), nil
		case len(sc.queue) >= maxQueue:
			return errRsp(op, r.Handle, att.ErrPrepareQueueFull), nil
		}
		sc.queue = append(sc.queue, prepared{a.char, int(r.Offset), append([]byte(nil), r.Value...)})
		return att.Encode(&att.PrepareWrite{Code: att.OpPrepareWriteRsp, Handle: r.Handle, Offset: r.Offset, Value: r.Value}), nil
	case *att.ExecuteWriteReq:
		q := sc.queue
		sc.queue = nil
		if r.Flags == att.ExecuteCancel {
			return att.Encode(&att.Empty{Code: att.OpExecuteWriteRsp}), nil
		}
		// Check every part before writing any: a part starts within
		// or right after the value built so far, which stays at most
		// 512 bytes.
		vals := map[*ServerChar][]byte{}
		var order []*ServerChar
		for _, p := range q {
			v, ok := vals[p.char]
			if !ok {
				v = append([]byte(nil), p.char.value...)
				order = append(order, p.char)
			}
			if p.offset > len(v) {
				return errRsp(op, p.char.handle, att.ErrInvalidOffset), nil
			}
			if p.offset+len(p.value) > att.MaxValue {
				return errRsp(op, p.char.handle, att.ErrInvalidValueLength), nil
			}
			v = append(v[:p.offset], p.value...)
			vals[p.char] = v
		}
		for _, c := range order {
			c.value = vals[c]
			c.writes++
		}
		return att.Encode(&att.Empty{Code: att.OpExecuteWriteRsp}), order
	}
	if op.IsRequest() {
		return errRsp(op, 0, att.ErrRequestNotSupported), nil
	}
	return nil, nil
}

func (s *Server) find(h uint16) *attr {
	for i := range s.attrs {
		if s.attrs[i].handle == h {
			return &s.attrs[i]
		}
	}
	return nil
}

func (s *Server) read(sc *serverConn, a attr) []byte {
	switch {
	case a.char == nil:
		return a.value
	case a.typ == att.ClientConfig:
		return binary.LittleEndian.AppendUint16(nil, sc.sub[a.char])
	}
	return append([]byte(nil), a.char.value...)
}
