package modbus

import (
	"context"
	"encoding/json"
	"errors"

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
