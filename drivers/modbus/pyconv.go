package modbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/binary"
	mb "github.com/tbgw/tbgw/codec/modbus"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

// pyResponse is one tag's read answer as the converter host rebuilds it
// into a pymodbus-like response (docs/connectors/exec.md).
type pyResponse struct {
	Function byte     `json:"function_code"`
	Address  uint16   `json:"address"`
	Count    int      `json:"count"`
	Unit     byte     `json:"unit"`
	Regs     []uint16 `json:"registers,omitempty"`
	Bits     []bool   `json:"bits,omitempty"`
	ExCode   *byte    `json:"exception_code,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// pyArgs builds the arguments of upstream's call convert({}, [poll]): one
// poll {"telemetry": {tag: [response]}, "attributes": {tag: [response]}}.
func (d *device) pyArgs() ([]byte, error) {
	sections := [2]map[string][]pyResponse{{}, {}}
	tags := append(append([]mb.Tag(nil), d.def.dev.Attributes...), d.def.dev.Telemetry...)
	for i, t := range tags {
		r := d.readings[i]
		if r.Regs == nil && r.Bits == nil && r.Err == nil {
			continue // not read this cycle
		}
		resp := pyResponse{Function: t.Function, Address: t.Address, Count: t.Count, Unit: d.def.unit, Regs: r.Regs, Bits: r.Bits}
		if r.Err != nil {
			var ex *mb.Exception
			if errors.As(r.Err, &ex) {
				code := ex.Code
				resp.ExCode = &code
			}
			resp.Error = r.Err.Error()
		}
		sec := 0
		if i >= d.nAttr {
			sec = 1
		}
		sections[sec][t.Key] = append(sections[sec][t.Key], resp)
	}
	type poll struct {
		Attributes map[string][]pyResponse `json:"attributes"`
		Telemetry  map[string][]pyResponse `json:"telemetry"`
	}
	return json.Marshal(struct {
		Data []poll `json:"data"`
	}{[]poll{{sections[0], sections[1]}}})
}

// sendConverted hands the readings to the slave's uplink_converter and
// sends what it returns; a converter error drops this poll's data.
func (d *device) sendConverted(ctx context.Context, out *kit.Sender, ts int64) error {
	args, err := d.pyArgs()
	if err == nil {
		var items []connector.Data
		if items, err = d.def.pyconv.ConvertCall(args, ts); err == nil {
			if len(items) > 0 {
				if err := out.Send(ctx, items); err != nil && ctx.Err() == nil {
					d.log.Warn("data not stored", "err", err)
				}
			}
			return nil
		}
	}
	d.logTagError(errors.New("uplink_converter failed, data dropped: " + err.Error()))
	return nil
}

// pyWrite converts v with the slave's downlink_converter, called as
// upstream's connector does (convert(BytesDownlinkConverterConfig,
// {"data": {"params": v}})), and writes what it returns: registers for
// functions 6 and 16, coils for 5 and 15 (the first item only for 5 and
// 6, as upstream). bytes count as big-endian registers, or as coils
// least significant bit first.
func (d *device) pyWrite(ctx context.Context, t *mb.Tag, v any) error {
	order := func(e binary.Endian) string {
		if e == binary.Big {
			return "BIG"
		}
		return "LITTLE"
	}
	args, err := json.Marshal(map[string]any{
		"config": map[string]any{"device_name": d.def.name, "byte_order": order(d.def.order.Byte),
			"word_order": order(d.def.order.Word), "repack": d.def.repack, "objects_count": t.Count,
			"function_code": t.Function, "lower_type": t.Kind.String(), "address": t.Address},
		"value": v,
	})
	if err != nil {
		return err
	}
	raw, err := d.def.pydown.ConvertDownCall(args)
	if err != nil {
		return err
	}
	w, err := pyWriteRequest(t, raw)
	if err != nil {
		return fmt.Errorf("downlink_converter result: %w", err)
	}
	d.log.Debug("write", "key", t.Key, "request", w.String())
	return d.m.write(ctx, d.def.unit, w, d.opts)
}

// pyWriteRequest turns a downlink converter's result into a write request.
func pyWriteRequest(t *mb.Tag, raw json.RawMessage) (mb.Write, error) {
	w := mb.Write{Function: t.Function, Address: t.Address}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		items = []json.RawMessage{raw} // one value
	}
	var nums []int64
	var bits []bool
	for _, it := range items {
		var n float64
		var flag bool
		b, isBytes := codec.ResultBytes(it)
		switch {
		case isBytes:
			for i := 0; i+1 < len(b); i += 2 {
				nums = append(nums, int64(b[i])<<8|int64(b[i+1]))
			}
			for _, x := range b {
				for k := range 8 {
					bits = append(bits, x>>k&1 == 1)
				}
			}
			if len(b) == 1 { // one byte: a value, not a bit field, for 5 and 6
				nums = append(nums, int64(b[0]))
				if t.Function == 5 {
					bits = append(bits[:len(bits)-8], b[0] != 0)
				}
			}
		case json.Unmarshal(it, &flag) == nil:
			bits = append(bits, flag)
			nums = append(nums, map[bool]int64{false: 0, true: 1}[flag])
		case json.Unmarshal(it, &n) == nil:
			bits = append(bits, n != 0)
			nums = append(nums, int64(n))
		default:
			return w, fmt.Errorf("want numbers, booleans or bytes, got %s", it)
		}
	}
	switch t.Function {
	case 5, 15:
		if len(bits) == 0 {
			return w, errors.New("no coil values")
		}
		if t.Function == 5 {
			bits = bits[:1]
		} else if len(bits) > t.Count && t.Count > 0 {
			bits = bits[:t.Count]
		}
		w.Bits = bits
	default:
		if len(nums) == 0 {
			return w, errors.New("no register values")
		}
		if t.Function == 6 {
			nums = nums[:1]
		}
		for _, n := range nums {
			if n < -32768 || n > 65535 {
				return w, fmt.Errorf("register value %d out of range", n)
			}
			w.Regs = append(w.Regs, uint16(n))
		}
	}
	return w, nil
}
