package adv

import (
	"encoding/binary"
	"fmt"

	"github.com/tbgw/tbgw/codec/att"
)

// AD types.
const (
	TypeFlags         = 0x01
	TypeUUID16Part    = 0x02
	TypeUUID16        = 0x03
	TypeUUID32Part    = 0x04
	TypeUUID32        = 0x05
	TypeUUID128Part   = 0x06
	TypeUUID128       = 0x07
	TypeShortName     = 0x08
	TypeCompleteName  = 0x09
	TypeTxPower       = 0x0A
	TypeServiceData16 = 0x16
	TypeServiceData32 = 0x20
	TypeSvcData128    = 0x21
	TypeManufacturer  = 0xFF
)

// Manufacturer is one manufacturer specific data structure.
type Manufacturer struct {
	Company uint16
	Data    []byte
}

// ServiceData is one service data structure.
type ServiceData struct {
	UUID att.UUID
	Data []byte
}

// Data is parsed advertising data.
type Data struct {
	Flags        uint8
	Name         string // complete name, else the shortened one
	Services     []att.UUID
	Manufacturer []Manufacturer
	ServiceData  []ServiceData
	TxPower      *int8
	Other        []Struct // AD types not listed above
}

// Struct is one raw AD structure.
type Struct struct {
	Type uint8
	Data []byte
}

// Parse decodes advertising data; data may be advertising data and scan
// response data concatenated. Slices in the result alias b.
func Parse(b []byte) (Data, error) {
	var d Data
	var short string
	for i := 0; i < len(b); {
		n := int(b[i])
		if n == 0 { // early termination: the rest is padding
			break
		}
		if i+1+n > len(b) {
			return d, fmt.Errorf("adv: structure at offset %d has length %d, only %d bytes left", i, n, len(b)-i-1)
		}
		t, v := b[i+1], b[i+2:i+1+n]
		i += 1 + n
		switch t {
		case TypeFlags:
			if len(v) > 0 {
				d.Flags = v[0]
			}
		case TypeShortName:
			short = string(v)
		case TypeCompleteName:
			d.Name = string(v)
		case TypeTxPower:
			if len(v) == 1 {
				p := int8(v[0])
				d.TxPower = &p
			}
		case TypeUUID16Part, TypeUUID16, TypeUUID32Part, TypeUUID32, TypeUUID128Part, TypeUUID128:
			w := map[uint8]int{TypeUUID16Part: 2, TypeUUID16: 2, TypeUUID32Part: 4, TypeUUID32: 4}[t]
			if w == 0 {
				w = 16
			}
			if len(v)%w != 0 {
				return d, fmt.Errorf("adv: service UUID list of %d bytes is not a multiple of %d", len(v), w)
			}
			for ; len(v) > 0; v = v[w:] {
				u, _ := att.FromWire(v[:w])
				d.Services = append(d.Services, u)
			}
		case TypeManufacturer:
			if len(v) < 2 {
				return d, fmt.Errorf("adv: manufacturer data of %d bytes has no company id", len(v))
			}
			d.Manufacturer = append(d.Manufacturer, Manufacturer{Company: binary.LittleEndian.Uint16(v), Data: v[2:]})
		case TypeServiceData16, TypeServiceData32, TypeSvcData128:
			w := map[uint8]int{TypeServiceData16: 2, TypeServiceData32: 4, TypeSvcData128: 16}[t]
			if len(v) < w {
				return d, fmt.Errorf("adv: service data of %d bytes has no %d-byte UUID", len(v), w)
			}
			u, _ := att.FromWire(v[:w])
			d.ServiceData = append(d.ServiceData, ServiceData{UUID: u, Data: v[w:]})
		default:
			d.Other = append(d.Other, Struct{Type: t, Data: v})
		}
	}
	if d.Name == "" {
		d.Name = short
	}
	return d, nil
}

// Builder appends AD structures.
type Builder struct{ b []byte }

// Add appends one structure; data longer than 254 bytes is cut.
func (w *Builder) Add(t uint8, data []byte) *Builder {
	if len(data) > 254 {
		data = data[:254]
	}
	w.b = append(append(w.b, byte(len(data)+1), t), data...)
	return w
}

// Name appends a complete local name.
func (w *Builder) Name(s string) *Builder { return w.Add(TypeCompleteName, []byte(s)) }

// Manufacturer appends manufacturer specific data.
func (w *Builder) Manufacturer(company uint16, data []byte) *Builder {
	return w.Add(TypeManufacturer, append(binary.LittleEndian.AppendUint16(nil, company), data...))
}

// ServiceData appends service data for a 16 or 128-bit UUID.
func (w *Builder) ServiceData(u att.UUID, data []byte) *Builder {
	t := uint8(TypeServiceData16)
	if !u.Is16() {
		t = TypeSvcData128
	}
	return w.Add(t, append(u.Wire(), data...))
}

// Bytes returns the data built so far.
func (w *Builder) Bytes() []byte { return w.b }
