package ble

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/bytesexpr"
)

// convert turns the raw bytes of one item into a datapoint value.
//
// Bytes converter (upstream BytesBLEUplinkConverter): the valueExpression
// with every [i] / [a:b] replaced by the decimal values of the selected
// bytes, concatenated; always a string ("[0:2]cm" of 31 32 is "4950cm").
//
// Hex converter (upstream HexBytesBLEUplinkConverter): the last selection
// as one unsigned big-endian integer (at most 8 bytes), then "compute"
// evaluated over it as value.
func convert(it *item, data []byte) (any, error) {
	if it.conv == convBytes {
		return it.tmpl.Render(data, bytesexpr.Decimal)
	}
	sl := it.tmpl.Slices()
	if len(sl) == 0 {
		return nil, fmt.Errorf("valueExpression %q selects no bytes", it.tmpl)
	}
	sel, ok := sl[len(sl)-1].Select(data)
	if !ok {
		return nil, fmt.Errorf("valueExpression %q: index out of range for %d bytes", it.tmpl, len(data))
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("valueExpression %q selects no bytes of %d", it.tmpl, len(data))
	}
	if len(sel) > 8 {
		return nil, fmt.Errorf("valueExpression %q selects %d bytes, at most 8 make an integer", it.tmpl, len(sel))
	}
	var buf [8]byte
	copy(buf[8-len(sel):], sel)
	u := binary.BigEndian.Uint64(buf[:])
	var v any = int64(u)
	if u > math.MaxInt64 {
		v = float64(u)
	}
	if it.compute == nil {
		return v, nil
	}
	return compute(it, v)
}

func compute(it *item, v any) (any, error) {
	r, err := it.compute.Eval(v)
	if err != nil {
		return nil, fmt.Errorf("compute %q: %w", it.compute, err)
	}
	switch x := r.(type) {
	case int64, float64, bool, string:
		return x, nil
	case int:
		return int64(x), nil
	case nil:
		return nil, fmt.Errorf("compute %q gave None", it.compute)
	case []byte:
		return fmt.Sprintf("%x", x), nil
	}
	return fmt.Sprint(r), nil
}

// advValue extracts an advertisement item from a scan report.
func advValue(it *item, rssi int8, d *adv.Data) (any, bool, error) {
	switch it.field {
	case advRSSI:
		if rssi == 127 { // "not available"
			return nil, false, nil
		}
		return int64(rssi), true, nil
	case advTxPower:
		if d.TxPower == nil {
			return nil, false, nil
		}
		return int64(*d.TxPower), true, nil
	case advName:
		if d.Name == "" {
			return nil, false, nil
		}
		if it.tmpl.String() == "[:]" {
			return d.Name, true, nil
		}
		s, err := it.tmpl.Render([]byte(d.Name), bytesexpr.UTF8)
		return s, err == nil, err
	case advServiceData:
		for _, sd := range d.ServiceData {
			if it.svc.IsZero() || sd.UUID == it.svc {
				v, err := convert(it, sd.Data)
				return v, err == nil, err
			}
		}
		return nil, false, nil
	}
	// Upstream: the first manufacturer data value, company id removed.
	if len(d.Manufacturer) == 0 {
		return nil, false, nil
	}
	v, err := convert(it, d.Manufacturer[0].Data)
	return v, err == nil, err
}
