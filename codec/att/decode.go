package att

import (
	"encoding/binary"
	"fmt"
)

// Decode parses one ATT PDU. Values in the result alias b.
func Decode(b []byte) (PDU, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("att: empty PDU: %w", ErrShort)
	}
	op, p := Opcode(b[0]), b[1:]
	need := func(n int) error {
		if len(p) < n {
			return fmt.Errorf("att: %v of %d bytes, want at least %d: %w", op, len(b), n+1, ErrShort)
		}
		return nil
	}
	exact := func(n int) error {
		if len(p) != n {
			return fmt.Errorf("att: %v of %d bytes, want %d", op, len(b), n+1)
		}
		return nil
	}
	u16 := func(i int) uint16 { return binary.LittleEndian.Uint16(p[i:]) }
	switch op {
	case OpError:
		if err := exact(4); err != nil {
			return nil, err
		}
		return &ErrorRsp{Req: Opcode(p[0]), Handle: u16(1), Code: ErrorCode(p[3])}, nil
	case OpMTUReq, OpMTURsp:
		if err := exact(2); err != nil {
			return nil, err
		}
		if op == OpMTUReq {
			return &MTUReq{MTU: u16(0)}, nil
		}
		return &MTURsp{MTU: u16(0)}, nil
	case OpFindInfoReq:
		if err := exact(4); err != nil {
			return nil, err
		}
		return &FindInfoReq{Range{u16(0), u16(2)}}, nil
	case OpFindInfoRsp:
		return decodeFindInfoRsp(op, p)
	case OpReadByTypeReq, OpReadByGroupReq:
		if err := need(6); err != nil {
			return nil, err
		}
		t, err := FromWire(p[4:])
		if err != nil || t.Len() == 0 || len(p[4:]) == 4 {
			return nil, fmt.Errorf("att: %v: attribute type of %d bytes, want 2 or 16", op, len(p)-4)
		}
		r := Range{u16(0), u16(2)}
		if op == OpReadByTypeReq {
			return &ReadByTypeReq{Range: r, Type: t}, nil
		}
		return &ReadByGroupReq{Range: r, Type: t}, nil
	case OpReadByTypeRsp:
		return decodeList(op, p, 2)
	case OpReadByGroupRsp:
		return decodeList(op, p, 4)
	case OpReadReq:
		if err := exact(2); err != nil {
			return nil, err
		}
		return &ReadReq{Handle: u16(0)}, nil
	case OpReadBlobReq:
		if err := exact(4); err != nil {
			return nil, err
		}
		return &ReadBlobReq{Handle: u16(0), Offset: u16(2)}, nil
	case OpReadRsp, OpReadBlobRsp:
		return &ValuePDU{Code: op, Value: p}, nil
	case OpWriteReq, OpWriteCmd, OpNotify, OpIndicate:
		if err := need(2); err != nil {
			return nil, err
		}
		return &HandleValuePDU{Code: op, Handle: u16(0), Value: p[2:]}, nil
	case OpPrepareWriteReq, OpPrepareWriteRsp:
		if err := need(4); err != nil {
			return nil, err
		}
		return &PrepareWrite{Code: op, Handle: u16(0), Offset: u16(2), Value: p[4:]}, nil
	case OpExecuteWriteReq:
		if err := exact(1); err != nil {
			return nil, err
		}
		if p[0] > ExecuteWrite {
			return nil, fmt.Errorf("att: %v: flags 0x%02x, want 0 (cancel) or 1 (write)", op, p[0])
		}
		return &ExecuteWriteReq{Flags: p[0]}, nil
	case OpWriteRsp, OpExecuteWriteRsp, OpConfirm:
		if err := exact(0); err != nil {
			return nil, err
		}
		return &Empty{Code: op}, nil
	}
	return &Unknown{Code: op, Params: p}, nil
}

func decodeFindInfoRsp(op Opcode, p []byte) (PDU, error) {
	if len(p) < 1 {
		return nil, fmt.Errorf("att: %v without format: %w", op, ErrShort)
	}
	var ul int
	switch p[0] {
	case 1:
		ul = 2
	case 2:
		ul = 16
	default:
		return nil, fmt.Errorf("att: %v: format %d, want 1 or 2", op, p[0])
	}
	body, n := p[1:], 2+ul
	if len(body) == 0 || len(body)%n != 0 {
		return nil, fmt.Errorf("att: %v: %d bytes of entries is not a positive multiple of %d", op, len(body), n)
	}
	r := &FindInfoRsp{Entries: make([]HandleType, 0, len(body)/n)}
	for ; len(body) > 0; body = body[n:] {
		t, _ := FromWire(body[2:n])
		r.Entries = append(r.Entries, HandleType{Handle: binary.LittleEndian.Uint16(body), Type: t})
	}
	return r, nil
}

// decodeList decodes Read By Type (head 2: handle) and Read By Group Type
// (head 4: handle range) responses: a length byte, then entries of that
// length.
func decodeList(op Opcode, p []byte, head int) (PDU, error) {
	if len(p) < 1 {
		return nil, fmt.Errorf("att: %v without length: %w", op, ErrShort)
	}
	n, body := int(p[0]), p[1:]
	if n < head {
		return nil, fmt.Errorf("att: %v: entry length %d, want at least %d", op, n, head)
	}
	if len(body) == 0 || len(body)%n != 0 {
		return nil, fmt.Errorf("att: %v: %d bytes of entries is not a positive multiple of %d", op, len(body), n)
	}
	if head == 2 {
		r := &ReadByTypeRsp{Entries: make([]HandleValue, 0, len(body)/n)}
		for ; len(body) > 0; body = body[n:] {
			r.Entries = append(r.Entries, HandleValue{Handle: binary.LittleEndian.Uint16(body), Value: body[2:n:n]})
		}
		return r, nil
	}
	r := &ReadByGroupRsp{Entries: make([]GroupValue, 0, len(body)/n)}
	for ; len(body) > 0; body = body[n:] {
		r.Entries = append(r.Entries, GroupValue{
			Range: Range{binary.LittleEndian.Uint16(body), binary.LittleEndian.Uint16(body[2:])},
			Value: body[4:n:n],
		})
	}
	return r, nil
}
