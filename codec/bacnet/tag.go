package bacnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// Application tag numbers (clause 20.2.1.4).
const (
	TagNull            = 0
	TagBoolean         = 1
	TagUnsigned        = 2
	TagSigned          = 3
	TagReal            = 4
	TagDouble          = 5
	TagOctetString     = 6
	TagCharacterString = 7
	TagBitString       = 8
	TagEnumerated      = 9
	TagDate            = 10
	TagTime            = 11
	TagObjectID        = 12
)

// ErrTruncated is returned (wrapped) when input ends inside an element.
var ErrTruncated = errors.New("bacnet: truncated")

// maxNesting bounds how deep constructed values may nest when decoding.
const maxNesting = 32

// Tag is one decoded tag header.
type Tag struct {
	Number  uint8
	Context bool   // context specific (class bit set)
	Opening bool   // opening tag of a constructed context value
	Closing bool   // closing tag
	Length  uint32 // content length; for application Boolean the value
}

// DecodeTag reads a tag header from b and returns it with the header length.
func DecodeTag(b []byte) (Tag, int, error) {
	if len(b) < 1 {
		return Tag{}, 0, fmt.Errorf("%w tag", ErrTruncated)
	}
	t := Tag{Number: b[0] >> 4, Context: b[0]&0x08 != 0}
	lvt := b[0] & 0x07
	n := 1
	if t.Number == 15 {
		if len(b) < 2 {
			return Tag{}, 0, fmt.Errorf("%w extended tag number", ErrTruncated)
		}
		t.Number = b[1]
		n = 2
	}
	switch {
	case lvt == 6 && t.Context:
		t.Opening = true
		return t, n, nil
	case lvt == 7 && t.Context:
		t.Closing = true
		return t, n, nil
	case lvt < 5:
		t.Length = uint32(lvt)
	default: // 5, or 6/7 on an application tag: extended length
		if lvt != 5 {
			return Tag{}, 0, fmt.Errorf("bacnet: application tag %d with length/value/type %d", t.Number, lvt)
		}
		if len(b) < n+1 {
			return Tag{}, 0, fmt.Errorf("%w tag length", ErrTruncated)
		}
		switch l := b[n]; l {
		case 254:
			if len(b) < n+3 {
				return Tag{}, 0, fmt.Errorf("%w tag length", ErrTruncated)
			}
			t.Length = uint32(binary.BigEndian.Uint16(b[n+1:]))
			n += 3
		case 255:
			if len(b) < n+5 {
				return Tag{}, 0, fmt.Errorf("%w tag length", ErrTruncated)
			}
			t.Length = binary.BigEndian.Uint32(b[n+1:])
			n += 5
		default:
			t.Length = uint32(l)
			n++
		}
	}
	return t, n, nil
}

// AppendTag appends a tag header with the given number, class and length.
func AppendTag(b []byte, number uint8, context bool, length uint32) []byte {
	first := byte(0)
	if context {
		first = 0x08
	}
	if number >= 15 {
		first |= 0xF0
	} else {
		first |= number << 4
	}
	if length < 5 {
		first |= byte(length)
	} else {
		first |= 5
	}
	b = append(b, first)
	if number >= 15 {
		b = append(b, number)
	}
	switch {
	case length < 5:
	case length < 254:
		b = append(b, byte(length))
	case length <= 0xFFFF:
		b = append(b, 254, byte(length>>8), byte(length))
	default:
		b = append(b, 255)
		b = binary.BigEndian.AppendUint32(b, length)
	}
	return b
}

// AppendOpening and AppendClosing append the tags around a constructed
// context value.
func AppendOpening(b []byte, number uint8) []byte { return appendPair(b, number, 6) }

// AppendClosing appends a closing context tag.
func AppendClosing(b []byte, number uint8) []byte { return appendPair(b, number, 7) }

func appendPair(b []byte, number uint8, lvt byte) []byte {
	if number >= 15 {
		return append(b, 0xF8|lvt, number)
	}
	return append(b, number<<4|0x08|lvt)
}

// Value kinds that have no natural Go type.
type (
	// Enumerated is an application Enumerated value.
	Enumerated uint32
	// BitString is an application BitString: Len bits, first bit is the
	// most significant bit of Bytes[0].
	BitString struct {
		Len   int
		Bytes []byte
	}
	// Date is a BACnet date; 255 in a field means "any". Year is the
	// full year (1900 + the encoded octet) or 255 for any.
	Date struct {
		Year             int
		Month, Day, Wday uint8
	}
	// Time is a BACnet time; 255 in a field means "any".
	Time struct{ Hour, Minute, Second, Hundredths uint8 }
	// Context is a primitive context tagged value kept as its raw content.
	Context struct {
		Tag  uint8
		Data []byte
	}
	// Constructed is a context tagged opening/closing pair and what it
	// encloses.
	Constructed struct {
		Tag    uint8
		Values []Value
	}
	// Value is one decoded element: nil (Null), bool, uint64, int64,
	// float32, float64, []byte, string, BitString, Enumerated, Date, Time,
	// ObjectID, Context or Constructed.
	Value = any
)

// Bit reports bit i (0 is the first bit).
func (s BitString) Bit(i int) bool {
	if i < 0 || i >= s.Len || i/8 >= len(s.Bytes) {
		return false
	}
	return s.Bytes[i/8]&(0x80>>(i%8)) != 0
}

// NewBitString builds a bit string from bools.
func NewBitString(bits ...bool) BitString {
	s := BitString{Len: len(bits), Bytes: make([]byte, (len(bits)+7)/8)}
	for i, v := range bits {
		if v {
			s.Bytes[i/8] |= 0x80 >> (i % 8)
		}
	}
	return s
}

// String formats a bit string as 0s and 1s.
func (s BitString) String() string {
	out := make([]byte, s.Len)
	for i := range out {
		out[i] = '0'
		if s.Bit(i) {
			out[i] = '1'
		}
	}
	return string(out)
}

func (d Date) String() string {
	f := func(v int, w int) string {
		if v == 255 {
			return "*"
		}
		return fmt.Sprintf("%0*d", w, v)
	}
	y := f(d.Year, 4)
	if d.Year == 255+1900 {
		y = "*"
	}
	return y + "-" + f(int(d.Month), 2) + "-" + f(int(d.Day), 2)
}

func (t Time) String() string {
	f := func(v uint8) string {
		if v == 255 {
			return "*"
		}
		return fmt.Sprintf("%02d", v)
	}
	return f(t.Hour) + ":" + f(t.Minute) + ":" + f(t.Second) + "." + f(t.Hundredths)
}

// AppendUnsignedContent appends the minimal big-endian bytes of v.
func appendUintContent(b []byte, v uint64) []byte {
	n := uintLen(v)
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func uintLen(v uint64) int {
	n := 1
	for v > 0xFF {
		v >>= 8
		n++
	}
	return n
}

func intLen(v int64) int {
	n := 1
	for v < -128 || v > 127 {
		v >>= 8
		n++
	}
	return n
}

func appendIntContent(b []byte, v int64) []byte {
	n := intLen(v)
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func decodeUint(c []byte) (uint64, error) {
	if len(c) == 0 || len(c) > 8 {
		return 0, fmt.Errorf("bacnet: unsigned of %d octets", len(c))
	}
	var v uint64
	for _, x := range c {
		v = v<<8 | uint64(x)
	}
	return v, nil
}

func decodeInt(c []byte) (int64, error) {
	if len(c) == 0 || len(c) > 8 {
		return 0, fmt.Errorf("bacnet: signed of %d octets", len(c))
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, nil
}

// AppendUnsigned appends an application Unsigned.
func AppendUnsigned(b []byte, v uint64) []byte {
	return appendUintContent(AppendTag(b, TagUnsigned, false, uint32(uintLen(v))), v)
}

// AppendContextUnsigned appends a context tagged Unsigned.
func AppendContextUnsigned(b []byte, tag uint8, v uint64) []byte {
	return appendUintContent(AppendTag(b, tag, true, uint32(uintLen(v))), v)
}

// AppendEnumerated appends an application Enumerated.
func AppendEnumerated(b []byte, v uint32) []byte {
	return appendUintContent(AppendTag(b, TagEnumerated, false, uint32(uintLen(uint64(v)))), uint64(v))
}

// AppendContextEnumerated appends a context tagged Enumerated.
func AppendContextEnumerated(b []byte, tag uint8, v uint32) []byte {
	return AppendContextUnsigned(b, tag, uint64(v))
}

// AppendObjectID appends an application ObjectIdentifier.
func AppendObjectID(b []byte, id ObjectID) []byte {
	return binary.BigEndian.AppendUint32(AppendTag(b, TagObjectID, false, 4), id.Raw())
}

// AppendContextObjectID appends a context tagged ObjectIdentifier.
func AppendContextObjectID(b []byte, tag uint8, id ObjectID) []byte {
	return binary.BigEndian.AppendUint32(AppendTag(b, tag, true, 4), id.Raw())
}

// AppendCharacterString appends an application CharacterString (UTF-8).
func AppendCharacterString(b []byte, s string) []byte {
	b = AppendTag(b, TagCharacterString, false, uint32(len(s)+1))
	return append(append(b, 0), s...)
}

// AppendContextBool appends a context tagged Boolean (one content octet).
func AppendContextBool(b []byte, tag uint8, v bool) []byte {
	x := byte(0)
	if v {
		x = 1
	}
	return append(AppendTag(b, tag, true, 1), x)
}

// AppendContextReal appends a context tagged Real.
func AppendContextReal(b []byte, tag uint8, v float32) []byte {
	return binary.BigEndian.AppendUint32(AppendTag(b, tag, true, 4), math.Float32bits(v))
}

// AppendValue appends one application tagged value (or a Context /
// Constructed element). Integers of Go's other widths are accepted: int
// kinds become Signed, uint kinds Unsigned.
func AppendValue(b []byte, v Value) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, 0x00), nil
	case bool:
		if x {
			return append(b, 0x11), nil
		}
		return append(b, 0x10), nil
	case uint64:
		return AppendUnsigned(b, x), nil
	case uint32:
		return AppendUnsigned(b, uint64(x)), nil
	case uint:
		return AppendUnsigned(b, uint64(x)), nil
	case int64:
		return appendIntContent(AppendTag(b, TagSigned, false, uint32(intLen(x))), x), nil
	case int:
		return AppendValue(b, int64(x))
	case int32:
		return AppendValue(b, int64(x))
	case float32:
		return binary.BigEndian.AppendUint32(AppendTag(b, TagReal, false, 4), math.Float32bits(x)), nil
	case float64:
		return binary.BigEndian.AppendUint64(AppendTag(b, TagDouble, false, 8), math.Float64bits(x)), nil
	case []byte:
		return append(AppendTag(b, TagOctetString, false, uint32(len(x))), x...), nil
	case string:
		if !utf8.ValidString(x) {
			return b, fmt.Errorf("bacnet: character string is not valid UTF-8")
		}
		return AppendCharacterString(b, x), nil
	case BitString:
		if x.Len < 0 || (x.Len+7)/8 != len(x.Bytes) {
			return b, fmt.Errorf("bacnet: bit string of %d bits in %d octets", x.Len, len(x.Bytes))
		}
		unused := byte((8 - x.Len%8) % 8)
		b = AppendTag(b, TagBitString, false, uint32(len(x.Bytes)+1))
		return append(append(b, unused), x.Bytes...), nil
	case Enumerated:
		return AppendEnumerated(b, uint32(x)), nil
	case Date:
		y := x.Year - 1900
		if x.Year == 255 || y < 0 || y > 255 {
			y = 255
		}
		return append(AppendTag(b, TagDate, false, 4), byte(y), x.Month, x.Day, x.Wday), nil
	case Time:
		return append(AppendTag(b, TagTime, false, 4), x.Hour, x.Minute, x.Second, x.Hundredths), nil
	case ObjectID:
		return AppendObjectID(b, x), nil
	case Context:
		return append(AppendTag(b, x.Tag, true, uint32(len(x.Data))), x.Data...), nil
	case Constructed:
		b = AppendOpening(b, x.Tag)
		var err error
		for _, e := range x.Values {
			if b, err = AppendValue(b, e); err != nil {
				return b, err
			}
		}
		return AppendClosing(b, x.Tag), nil
	default:
		return b, fmt.Errorf("bacnet: cannot encode %T", v)
	}
}

// AppendValues appends each value in turn.
func AppendValues(b []byte, vs []Value) ([]byte, error) {
	var err error
	for _, v := range vs {
		if b, err = AppendValue(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// DecodeValue decodes one element at the start of b and returns it with
// the number of octets it used. A closing tag is an error here.
func DecodeValue(b []byte) (Value, int, error) { return decodeValue(b, 0) }

func decodeValue(b []byte, depth int) (Value, int, error) {
	t, n, err := DecodeTag(b)
	if err != nil {
		return nil, 0, err
	}
	if t.Closing {
		return nil, 0, fmt.Errorf("bacnet: unexpected closing tag %d", t.Number)
	}
	if t.Opening {
		if depth >= maxNesting {
			return nil, 0, fmt.Errorf("bacnet: constructed values nested deeper than %d", maxNesting)
		}
		vs, m, err := decodeUntilClosing(b[n:], t.Number, depth+1)
		if err != nil {
			return nil, 0, err
		}
		return Constructed{Tag: t.Number, Values: vs}, n + m, nil
	}
	if !t.Context && t.Number == TagBoolean {
		if t.Length > 1 {
			return nil, 0, fmt.Errorf("bacnet: boolean value %d", t.Length)
		}
		return t.Length == 1, n, nil
	}
	if uint64(t.Length) > uint64(len(b)-n) {
		return nil, 0, fmt.Errorf("%w: tag %d needs %d octets, %d left", ErrTruncated, t.Number, t.Length, len(b)-n)
	}
	c := b[n : n+int(t.Length)]
	end := n + int(t.Length)
	if t.Context {
		return Context{Tag: t.Number, Data: c}, end, nil
	}
	v, err := decodeApplication(t.Number, c)
	if err != nil {
		return nil, 0, err
	}
	return v, end, nil
}

// decodeUntilClosing decodes elements until the closing tag number and
// returns them and the octets used including the closing tag.
func decodeUntilClosing(b []byte, number uint8, depth int) ([]Value, int, error) {
	var out []Value
	off := 0
	for {
		if off >= len(b) {
			return nil, 0, fmt.Errorf("%w: no closing tag %d", ErrTruncated, number)
		}
		t, n, err := DecodeTag(b[off:])
		if err != nil {
			return nil, 0, err
		}
		if t.Closing {
			if t.Number != number {
				return nil, 0, fmt.Errorf("bacnet: closing tag %d inside %d", t.Number, number)
			}
			return out, off + n, nil
		}
		v, m, err := decodeValue(b[off:], depth)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, v)
		off += m
	}
}

// DecodeApplication decodes the content octets of application tag number.
func DecodeApplication(number uint8, c []byte) (Value, error) { return decodeApplication(number, c) }

func decodeApplication(number uint8, c []byte) (Value, error) {
	switch number {
	case TagNull:
		if len(c) != 0 {
			return nil, fmt.Errorf("bacnet: null with %d octets", len(c))
		}
		return nil, nil
	case TagUnsigned:
		return decodeUint(c)
	case TagSigned:
		return decodeInt(c)
	case TagReal:
		if len(c) != 4 {
			return nil, fmt.Errorf("bacnet: real of %d octets", len(c))
		}
		return math.Float32frombits(binary.BigEndian.Uint32(c)), nil
	case TagDouble:
		if len(c) != 8 {
			return nil, fmt.Errorf("bacnet: double of %d octets", len(c))
		}
		return math.Float64frombits(binary.BigEndian.Uint64(c)), nil
	case TagOctetString:
		return c, nil
	case TagCharacterString:
		return decodeCharacterString(c)
	case TagBitString:
		if len(c) == 0 || c[0] > 7 || (len(c) == 1 && c[0] != 0) {
			return nil, fmt.Errorf("bacnet: malformed bit string")
		}
		return BitString{Len: (len(c)-1)*8 - int(c[0]), Bytes: c[1:]}, nil
	case TagEnumerated:
		v, err := decodeUint(c)
		if err != nil || v > math.MaxUint32 {
			return nil, fmt.Errorf("bacnet: malformed enumerated")
		}
		return Enumerated(v), nil
	case TagDate:
		if len(c) != 4 {
			return nil, fmt.Errorf("bacnet: date of %d octets", len(c))
		}
		y := int(c[0]) + 1900
		if c[0] == 255 {
			y = 255
		}
		return Date{Year: y, Month: c[1], Day: c[2], Wday: c[3]}, nil
	case TagTime:
		if len(c) != 4 {
			return nil, fmt.Errorf("bacnet: time of %d octets", len(c))
		}
		return Time{c[0], c[1], c[2], c[3]}, nil
	case TagObjectID:
		if len(c) != 4 {
			return nil, fmt.Errorf("bacnet: object identifier of %d octets", len(c))
		}
		return ObjectIDFromRaw(binary.BigEndian.Uint32(c)), nil
	default:
		return nil, fmt.Errorf("bacnet: reserved application tag %d", number)
	}
}

func decodeCharacterString(c []byte) (string, error) {
	if len(c) == 0 {
		return "", fmt.Errorf("bacnet: character string without character set")
	}
	s := c[1:]
	switch c[0] {
	case 0: // ISO 10646 UTF-8 (formerly ANSI X3.4)
		if !utf8.Valid(s) {
			return string([]rune(string(s))), nil // replace invalid sequences
		}
		return string(s), nil
	case 4: // UCS-2
		if len(s)%2 != 0 {
			return "", fmt.Errorf("bacnet: UCS-2 string of odd length")
		}
		u := make([]uint16, len(s)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(s[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case 3: // UCS-4
		if len(s)%4 != 0 {
			return "", fmt.Errorf("bacnet: UCS-4 string of bad length")
		}
		r := make([]rune, len(s)/4)
		for i := range r {
			r[i] = rune(binary.BigEndian.Uint32(s[4*i:]))
		}
		return string(r), nil
	case 5: // ISO 8859-1
		r := make([]rune, len(s))
		for i, x := range s {
			r[i] = rune(x)
		}
		return string(r), nil
	default:
		return "", fmt.Errorf("bacnet: unsupported character set %d", c[0])
	}
}

// reader walks service data tag by tag.
type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool { return r.off >= len(r.b) }

// peek returns the next tag without consuming it.
func (r *reader) peek() (Tag, bool) {
	if r.done() {
		return Tag{}, false
	}
	t, _, err := DecodeTag(r.b[r.off:])
	return t, err == nil
}

// peekContext reports whether the next tag is context tag n (primitive).
func (r *reader) isContext(n uint8) bool {
	t, ok := r.peek()
	return ok && t.Context && !t.Opening && !t.Closing && t.Number == n
}

func (r *reader) isOpening(n uint8) bool {
	t, ok := r.peek()
	return ok && t.Opening && t.Number == n
}

func (r *reader) isClosing(n uint8) bool {
	t, ok := r.peek()
	return ok && t.Closing && t.Number == n
}

// context reads the content of primitive context tag n.
func (r *reader) context(n uint8) ([]byte, error) {
	t, h, err := DecodeTag(r.b[r.off:])
	if err != nil {
		return nil, err
	}
	if !t.Context || t.Opening || t.Closing || t.Number != n {
		return nil, fmt.Errorf("bacnet: expected context tag %d at offset %d", n, r.off)
	}
	if uint64(t.Length) > uint64(len(r.b)-r.off-h) {
		return nil, fmt.Errorf("%w: context tag %d", ErrTruncated, n)
	}
	c := r.b[r.off+h : r.off+h+int(t.Length)]
	r.off += h + int(t.Length)
	return c, nil
}

func (r *reader) contextUint(n uint8) (uint64, error) {
	c, err := r.context(n)
	if err != nil {
		return 0, err
	}
	return decodeUint(c)
}

func (r *reader) contextUint32(n uint8) (uint32, error) {
	v, err := r.contextUint(n)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, fmt.Errorf("bacnet: context tag %d value %d out of range", n, v)
	}
	return uint32(v), nil
}

func (r *reader) contextObjectID(n uint8) (ObjectID, error) {
	c, err := r.context(n)
	if err != nil {
		return ObjectID{}, err
	}
	if len(c) != 4 {
		return ObjectID{}, fmt.Errorf("bacnet: object identifier of %d octets", len(c))
	}
	return ObjectIDFromRaw(binary.BigEndian.Uint32(c)), nil
}

func (r *reader) contextBool(n uint8) (bool, error) {
	c, err := r.context(n)
	if err != nil {
		return false, err
	}
	if len(c) != 1 || c[0] > 1 {
		return false, fmt.Errorf("bacnet: malformed boolean")
	}
	return c[0] == 1, nil
}

func (r *reader) contextReal(n uint8) (float32, error) {
	c, err := r.context(n)
	if err != nil {
		return 0, err
	}
	if len(c) != 4 {
		return 0, fmt.Errorf("bacnet: real of %d octets", len(c))
	}
	return math.Float32frombits(binary.BigEndian.Uint32(c)), nil
}

// open consumes opening tag n.
func (r *reader) open(n uint8) error {
	if !r.isOpening(n) {
		return fmt.Errorf("bacnet: expected opening tag %d at offset %d", n, r.off)
	}
	_, h, _ := DecodeTag(r.b[r.off:])
	r.off += h
	return nil
}

// close consumes closing tag n.
func (r *reader) close(n uint8) error {
	if !r.isClosing(n) {
		return fmt.Errorf("bacnet: expected closing tag %d at offset %d", n, r.off)
	}
	_, h, _ := DecodeTag(r.b[r.off:])
	r.off += h
	return nil
}

// enclosed reads the values between opening tag n and its closing tag.
func (r *reader) enclosed(n uint8) ([]Value, error) {
	if err := r.open(n); err != nil {
		return nil, err
	}
	vs, m, err := decodeUntilClosing(r.b[r.off:], n, 1)
	if err != nil {
		return nil, err
	}
	r.off += m
	if vs == nil {
		vs = []Value{}
	}
	return vs, nil
}

// app reads one application tagged value.
func (r *reader) app() (Value, uint8, error) {
	t, ok := r.peek()
	if !ok {
		return nil, 0, fmt.Errorf("%w: expected an application value", ErrTruncated)
	}
	if t.Context {
		return nil, 0, fmt.Errorf("bacnet: expected an application value, got context tag %d", t.Number)
	}
	v, n, err := DecodeValue(r.b[r.off:])
	if err != nil {
		return nil, 0, err
	}
	r.off += n
	return v, t.Number, nil
}

func (r *reader) appUint() (uint64, error) {
	v, tag, err := r.app()
	if err != nil {
		return 0, err
	}
	if tag != TagUnsigned {
		return 0, fmt.Errorf("bacnet: expected Unsigned, got application tag %d", tag)
	}
	return v.(uint64), nil
}

func (r *reader) appEnum() (uint32, error) {
	v, tag, err := r.app()
	if err != nil {
		return 0, err
	}
	if tag != TagEnumerated {
		return 0, fmt.Errorf("bacnet: expected Enumerated, got application tag %d", tag)
	}
	return uint32(v.(Enumerated)), nil
}

func (r *reader) appObjectID() (ObjectID, error) {
	v, tag, err := r.app()
	if err != nil {
		return ObjectID{}, err
	}
	if tag != TagObjectID {
		return ObjectID{}, fmt.Errorf("bacnet: expected ObjectIdentifier, got application tag %d", tag)
	}
	return v.(ObjectID), nil
}

func (r *reader) appString() (string, error) {
	v, tag, err := r.app()
	if err != nil {
		return "", err
	}
	if tag != TagCharacterString {
		return "", fmt.Errorf("bacnet: expected CharacterString, got application tag %d", tag)
	}
	return v.(string), nil
}

func (r *reader) end() error {
	if !r.done() {
		return fmt.Errorf("bacnet: %d trailing octets", len(r.b)-r.off)
	}
	return nil
}
