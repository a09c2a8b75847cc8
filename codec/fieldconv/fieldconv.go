package fieldconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/field"
)

// Entry is one configured value.
type Entry struct {
	Key         string   `json:"key"`
	Type        string   `json:"type"`
	DataType    string   `json:"datatype"`
	FromByte    *int     `json:"fromByte"`
	ToByte      *int     `json:"toByte"`
	ByteOrder   string   `json:"byteorder"`
	Signed      bool     `json:"signed"`
	Multiplier  *float64 `json:"multiplier"`
	ByteAddress *int     `json:"byteAddress"`
	FromBit     *int     `json:"fromBit"`
	ToBit       *int     `json:"toBit"`
	Encoding    string   `json:"encoding"`
}

type entry struct {
	key   string
	f     field.Field
	bits  bool
	addr  int
	from  int
	nbits int
	mul   float64
}

// Converter decodes the configured entries from a message body. It is
// safe for concurrent use.
type Converter struct {
	device, profile string
	entries         []entry
	report          *codec.Strategy
}

// Parse reads an extension configuration: one entry object or a list of
// them.
func Parse(raw json.RawMessage) ([]Entry, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("extension configuration is missing")
	}
	dec := func(b []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	if raw[0] == '{' {
		var e Entry
		if err := dec(raw, &e); err != nil {
			return nil, err
		}
		return []Entry{e}, nil
	}
	var list []Entry
	if err := dec(raw, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// New compiles entries for a device named device with profile profile
// ("" is "default"). report is attached to every point (nil: inherit).
func New(device, profile string, entries []Entry, report *codec.Strategy) (*Converter, error) {
	if device == "" {
		return nil, errors.New("device name is empty")
	}
	if len(entries) == 0 {
		return nil, errors.New("no entries")
	}
	c := &Converter{device: device, profile: profile, report: report}
	for i, e := range entries {
		ce, err := compile(e)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		c.entries = append(c.entries, ce)
	}
	return c, nil
}

func compile(e Entry) (entry, error) {
	ce := entry{key: e.Key, mul: 1}
	if e.Key == "" {
		return ce, errors.New("key is required")
	}
	if e.Multiplier != nil {
		if math.IsNaN(*e.Multiplier) || math.IsInf(*e.Multiplier, 0) {
			return ce, errors.New("multiplier must be a finite number")
		}
		ce.mul = *e.Multiplier
	}
	typ := e.Type
	if typ == "" {
		typ = e.DataType
	}
	if typ == "" {
		typ = "int"
	}
	t, ok := field.ParseType(typ)
	if !ok {
		return ce, fmt.Errorf("type %q: want int, long, float, double, bool, string or raw", typ)
	}
	switch e.ByteOrder {
	case "", "big":
	case "little":
		ce.f.Little = true
	default:
		return ce, fmt.Errorf("byteorder %q: want big or little", e.ByteOrder)
	}
	if e.ByteAddress != nil {
		if e.FromBit == nil || e.ToBit == nil {
			return ce, errors.New("byteAddress needs fromBit and toBit")
		}
		ce.bits, ce.addr, ce.from, ce.nbits = true, *e.ByteAddress, *e.FromBit, *e.ToBit-*e.FromBit
		if ce.addr < 0 || ce.from < 0 || ce.nbits < 1 || ce.from+ce.nbits > 8 {
			return ce, fmt.Errorf("bits %d..%d of byte %d: want 0 <= fromBit < toBit <= 8", *e.FromBit, *e.ToBit, ce.addr)
		}
		if t != field.Int && t != field.Bool {
			return ce, errors.New("a bit field is int or bool")
		}
		ce.f.Type = t
		return ce, nil
	}
	if e.FromByte == nil || e.ToByte == nil {
		return ce, errors.New("fromByte and toByte are required (or byteAddress with fromBit and toBit)")
	}
	from, to := *e.FromByte, *e.ToByte
	if from < 0 || (to != -1 && to <= from) {
		return ce, fmt.Errorf("bytes %d..%d: want 0 <= fromByte < toByte (or toByte -1)", from, to)
	}
	ce.f.Start, ce.f.Type, ce.f.Signed = from, t, e.Signed
	ce.f.Length = -1
	if to != -1 {
		ce.f.Length = to - from
	}
	if t == field.String {
		ce.f.Encoding = e.Encoding
		if ce.f.Encoding == "" {
			ce.f.Encoding = "utf-8"
		}
	}
	if err := ce.f.Validate(); err != nil {
		return ce, err
	}
	return ce, nil
}

// Convert decodes payload. Entries the payload is too short for are
// skipped and reported in the error, next to the data of the others.
func (c *Converter) Convert(topic string, payload []byte, nowMs int64) ([]codec.Data, error) {
	d := codec.Data{Device: c.device, Type: c.profile}
	var errs []error
	for i := range c.entries {
		e := &c.entries[i]
		v, err := e.decode(payload)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.key, err))
			continue
		}
		d.Telemetry = append(d.Telemetry, codec.Point{Key: e.key, Value: v, TS: nowMs, Report: c.report})
	}
	err := errors.Join(errs...)
	if len(d.Telemetry) == 0 {
		return nil, err
	}
	return []codec.Data{d}, err
}

func (e *entry) decode(p []byte) (any, error) {
	var v any
	if e.bits {
		if e.addr >= len(p) {
			return nil, fmt.Errorf("byte %d: body has %d bytes", e.addr, len(p))
		}
		u, err := field.Bits(p[e.addr:e.addr+1], e.from, e.nbits)
		if err != nil {
			return nil, err
		}
		if e.f.Type == field.Bool {
			return u != 0, nil
		}
		v = int64(u)
	} else {
		var err error
		if v, err = e.f.Decode(p); err != nil {
			return nil, err
		}
	}
	if e.mul == 1 {
		return v, nil
	}
	switch x := v.(type) {
	case int64:
		return float64(x) * e.mul, nil
	case float64:
		return x * e.mul, nil
	}
	return v, nil
}
