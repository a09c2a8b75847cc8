package socket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

type frameKind uint8

const (
	frameRead      frameKind = iota // every read is a message (upstream)
	frameDelimiter                  // messages end with delim
	frameFixed                      // messages of n bytes
	frameLength                     // a 1, 2 or 4 byte length, then the message
)

type framing struct {
	kind   frameKind
	delim  []byte
	n      int // fixed length or prefix bytes
	little bool
	max    int
}

func compileFraming(f *framingConf, bufSize int) (framing, error) {
	fr := framing{max: 65536}
	if f == nil {
		return fr, nil
	}
	if f.MaxLength < 0 || f.MaxLength > 1<<24 {
		return fr, errors.New("maxLength: want 1 to 16777216")
	}
	if f.MaxLength > 0 {
		fr.max = f.MaxLength
	}
	switch strings.ToLower(f.Type) {
	case "", "none":
	case "delimiter":
		if f.Delimiter == "" {
			return fr, errors.New("delimiter: required")
		}
		fr.kind, fr.delim = frameDelimiter, []byte(f.Delimiter)
	case "fixed":
		if f.Length < 1 || f.Length > fr.max {
			return fr, fmt.Errorf("length: want 1 to %d", fr.max)
		}
		fr.kind, fr.n = frameFixed, f.Length
	case "length":
		if f.LengthBytes != 1 && f.LengthBytes != 2 && f.LengthBytes != 4 {
			return fr, errors.New("lengthBytes: want 1, 2 or 4")
		}
		fr.kind, fr.n = frameLength, f.LengthBytes
		switch strings.ToLower(f.ByteOrder) {
		case "", "big":
		case "little":
			fr.little = true
		default:
			return fr, fmt.Errorf("byteorder: want big or little, got %q", f.ByteOrder)
		}
	default:
		return fr, fmt.Errorf("type: want none, delimiter, fixed or length, got %q", f.Type)
	}
	return fr, nil
}

// errFrameTooLong ends a connection whose message exceeds maxLength.
var errFrameTooLong = errors.New("message longer than framing.maxLength")

// reader yields the messages of a stream. The returned slice is valid
// until the next call.
type reader struct {
	f   framing
	r   *bufio.Reader
	raw io.Reader
	buf []byte
}

func newReader(r io.Reader, f framing, bufSize int) *reader {
	rd := &reader{f: f, raw: r}
	switch f.kind {
	case frameRead:
		rd.buf = make([]byte, bufSize)
	case frameDelimiter:
		rd.r = bufio.NewReaderSize(r, min(max(f.max+len(f.delim), 16), 64<<10))
	default:
		rd.r = bufio.NewReaderSize(r, max(bufSize, 512))
	}
	return rd
}

func (rd *reader) next() ([]byte, error) {
	switch rd.f.kind {
	case frameRead:
		n, err := rd.raw.Read(rd.buf)
		if n > 0 {
			return rd.buf[:n], nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return nil, err
	case frameFixed:
		if cap(rd.buf) < rd.f.n {
			rd.buf = make([]byte, rd.f.n)
		}
		rd.buf = rd.buf[:rd.f.n]
		_, err := io.ReadFull(rd.r, rd.buf)
		return rd.buf, err
	case frameLength:
		var hdr [4]byte
		if _, err := io.ReadFull(rd.r, hdr[:rd.f.n]); err != nil {
			return nil, err
		}
		var n uint32
		switch rd.f.n {
		case 1:
			n = uint32(hdr[0])
		case 2:
			if rd.f.little {
				n = uint32(binary.LittleEndian.Uint16(hdr[:2]))
			} else {
				n = uint32(binary.BigEndian.Uint16(hdr[:2]))
			}
		case 4:
			if rd.f.little {
				n = binary.LittleEndian.Uint32(hdr[:4])
			} else {
				n = binary.BigEndian.Uint32(hdr[:4])
			}
		}
		if n > uint32(rd.f.max) {
			return nil, errFrameTooLong
		}
		if cap(rd.buf) < int(n) {
			rd.buf = make([]byte, n)
		}
		rd.buf = rd.buf[:n]
		_, err := io.ReadFull(rd.r, rd.buf)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return rd.buf, err
	}
	// Delimiter.
	rd.buf = rd.buf[:0]
	last := rd.f.delim[len(rd.f.delim)-1]
	for {
		chunk, err := rd.r.ReadSlice(last)
		rd.buf = append(rd.buf, chunk...)
		if len(rd.buf) > rd.f.max+len(rd.f.delim) {
			return nil, errFrameTooLong
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if err == io.EOF && len(rd.buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if bytes.HasSuffix(rd.buf, rd.f.delim) {
			return rd.buf[:len(rd.buf)-len(rd.f.delim)], nil
		}
	}
}

// ready reports whether a whole message is already buffered, so that next
// returns it without waiting for the network.
func (rd *reader) ready() bool {
	if rd.r == nil {
		return false
	}
	n := rd.r.Buffered()
	switch rd.f.kind {
	case frameFixed:
		return n >= rd.f.n
	case frameLength:
		if n < rd.f.n {
			return false
		}
		hdr, _ := rd.r.Peek(rd.f.n)
		var l int
		switch rd.f.n {
		case 1:
			l = int(hdr[0])
		case 2:
			if rd.f.little {
				l = int(binary.LittleEndian.Uint16(hdr))
			} else {
				l = int(binary.BigEndian.Uint16(hdr))
			}
		case 4:
			if rd.f.little {
				l = int(binary.LittleEndian.Uint32(hdr))
			} else {
				l = int(binary.BigEndian.Uint32(hdr))
			}
		}
		return l > rd.f.max || n >= rd.f.n+l // an overlong one errors at once
	case frameDelimiter:
		b, _ := rd.r.Peek(n)
		return bytes.Contains(b, rd.f.delim)
	}
	return false
}

// splitDatagram applies delimiter framing to a datagram, which may carry
// several messages; other framings take the datagram whole.
func (f framing) splitDatagram(p []byte) [][]byte {
	if f.kind != frameDelimiter {
		return [][]byte{p}
	}
	var out [][]byte
	for len(p) > 0 {
		i := bytes.Index(p, f.delim)
		if i < 0 {
			out = append(out, p)
			break
		}
		out = append(out, p[:i])
		p = p[i+len(f.delim):]
	}
	return out
}
