package canval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tbgw/tbgw/codec/expr"
	"github.com/tbgw/tbgw/codec/field"
)

// MaxPayload is the largest payload (CAN FD).
const MaxPayload = 64

// EncoderConfig is the data part of an upstream attributeUpdates or
// serverSideRpc entry.
type EncoderConfig struct {
	DataLength     int    // bytes of an integer value; 0 means 1
	DataByteorder  string // big (default) or little
	DataSigned     bool
	DataEncoding   string // strings; default ascii
	DataExpression string // computes the value from the data's keys
	DataBefore     string // hex put before the value
	DataAfter      string // hex put after the value
	DataInHex      string // fixed payload; everything else is ignored
	StrictEval     bool   // no function calls in DataExpression
}

// Encoder builds payloads.
type Encoder struct {
	fixed         []byte // DataInHex
	hasFixed      bool
	before, after []byte
	length        int
	little        bool
	signed        bool
	encoding      string
	expr          *expr.Program
}

// NewEncoder validates c.
func NewEncoder(c EncoderConfig) (*Encoder, error) {
	e := &Encoder{length: c.DataLength, signed: c.DataSigned}
	if e.length == 0 {
		e.length = 1
	}
	if e.length < 0 || e.length > MaxPayload {
		return nil, fmt.Errorf("dataLength %d: want 1 to %d", c.DataLength, MaxPayload)
	}
	switch strings.ToLower(c.DataByteorder) {
	case "", "big":
	case "little":
		e.little = true
	default:
		return nil, fmt.Errorf("dataByteorder %q: want big or little", c.DataByteorder)
	}
	e.encoding = c.DataEncoding
	if e.encoding == "" {
		e.encoding = "ascii"
	}
	if _, err := field.EncodeString("", e.encoding, false); err != nil {
		return nil, fmt.Errorf("dataEncoding: %v", err)
	}
	var err error
	if c.DataInHex != "" {
		if e.fixed, err = hexData("dataInHex", c.DataInHex); err != nil {
			return nil, err
		}
		e.hasFixed = true
	}
	if e.before, err = hexData("dataBefore", c.DataBefore); err != nil {
		return nil, err
	}
	if e.after, err = hexData("dataAfter", c.DataAfter); err != nil {
		return nil, err
	}
	if c.DataExpression != "" {
		if e.expr, err = expr.CompileWith(c.DataExpression, expr.Options{NoFuncs: c.StrictEval}); err != nil {
			return nil, fmt.Errorf("dataExpression: %w", err)
		}
	}
	return e, nil
}

func hexData(key, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := field.ParseHex(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("%s: %d bytes, a CAN payload has at most %d", key, len(b), MaxPayload)
	}
	return b, nil
}

// Fixed reports whether the payload is fixed (dataInHex).
func (e *Encoder) Fixed() bool { return e.hasFixed }

// Encode builds the payload from data: for an attribute update
// {"value": v}, for an RPC its parameters. Values are JSON values as
// encoding/json decodes them with UseNumber (json.Number), or Go values.
// A "dataInHex" key in data overrides the configured encoding.
func (e *Encoder) Encode(data map[string]any) ([]byte, error) {
	if e.hasFixed {
		return append([]byte(nil), e.fixed...), nil
	}
	if h, ok := data["dataInHex"].(string); ok && h != "" {
		return hexData("dataInHex", h)
	}
	var v any
	switch {
	case e.expr != nil:
		out, err := e.expr.EvalMap(data)
		if err != nil {
			return nil, err
		}
		v = out
	default:
		var ok bool
		if v, ok = data["value"]; !ok {
			return nil, errors.New(`no "value" and no dataExpression`)
		}
	}
	out := append([]byte(nil), e.before...)
	b, err := e.value(v)
	if err != nil {
		return nil, err
	}
	out = append(out, b...)
	out = append(out, e.after...)
	if len(out) > MaxPayload {
		return nil, fmt.Errorf("payload of %d bytes: a CAN payload has at most %d", len(out), MaxPayload)
	}
	return out, nil
}

// value encodes one value by its type.
func (e *Encoder) value(v any) ([]byte, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return e.int(i)
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %v", x, err)
		}
		return e.float(f)
	case bool:
		if x {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case int:
		return e.int(int64(x))
	case int64:
		return e.int(x)
	case float64:
		return e.float(x)
	case string:
		return field.EncodeString(x, e.encoding, e.little)
	case nil:
		return nil, errors.New("value is null")
	}
	return nil, fmt.Errorf("cannot encode a %s value", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}

func (e *Encoder) float(f float64) ([]byte, error) {
	u := math.Float32bits(float32(f))
	b := []byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}
	if e.little {
		b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	}
	return b, nil
}

// int writes i in e.length bytes, as Python's int.to_bytes does (signed
// when configured or negative); lengths beyond 8 bytes are sign-extended.
func (e *Encoder) int(i int64) ([]byte, error) {
	n := e.length
	if n <= 8 {
		return field.EncodeInt(i, n, e.little, e.signed)
	}
	b, _ := field.EncodeInt(i, 8, false, true)
	pad := byte(0)
	if i < 0 {
		pad = 0xff
	}
	out := make([]byte, n)
	for k := range out[:n-8] {
		out[k] = pad
	}
	copy(out[n-8:], b)
	if e.little {
		for l, r := 0, n-1; l < r; l, r = l+1, r-1 {
			out[l], out[r] = out[r], out[l]
		}
	}
	return out, nil
}
