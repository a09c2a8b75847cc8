package modbus

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec"
	mb "github.com/tbgw/tbgw/codec/modbus"
)

func objectsCount(tc *tagConfig) int {
	switch {
	case tc.ObjectsCount != nil:
		return *tc.ObjectsCount
	case tc.RegistersCount != nil:
		return *tc.RegistersCount
	case tc.RegisterCount != nil:
		return *tc.RegisterCount
	}
	return 1
}

// baseTag compiles what read and write items share.
func (c *compiler) baseTag(path string, tc *tagConfig, fcs string) (mb.Tag, error) {
	t := mb.Tag{Key: tc.Tag, Bit: -1, Round: 6}
	if t.Key == "" {
		return t, c.errorf(path+".tag", "required")
	}
	if tc.FunctionCode == nil {
		return t, c.errorf(path+".functionCode", "required (%s)", fcs)
	}
	fc := *tc.FunctionCode
	if !strings.Contains(" "+fcs+",", " "+strconv.Itoa(fc)+",") {
		return t, c.errorf(path+".functionCode", "must be one of %s, got %d", fcs, fc)
	}
	t.Function = byte(fc)
	t.Count = objectsCount(tc)
	if t.Count < 1 {
		return t, c.errorf(path+".objectsCount", "must be at least 1")
	}
	typ := tc.Type
	if typ == "" {
		typ = tc.Tag // upstream falls back to the tag as type name
	}
	k, err := mb.ParseType(typ, t.Count)
	if err != nil {
		return t, c.errorf(path+".type", "%v", err)
	}
	t.Kind = k
	return t, nil
}

// address reads a single address.
func (c *compiler) address(path string, raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, c.errorf(path, "required")
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, c.errorf(path, "want an address 0..65535, got %s", raw)
	}
	a, err := strconv.Atoi(n.String())
	if err != nil || a < 0 || a > 65535 {
		return 0, c.errorf(path, "want an address 0..65535, got %s", raw)
	}
	return a, nil
}

// readTag compiles an attributes or timeseries item: one tag, or one per
// value of an address range ("start-end"). It also returns the request
// size cap of range items (maxRegistersPerRequest), 0 otherwise.
func (c *compiler) readTag(path string, tc *tagConfig, d *slaveDef, devReport *codec.Strategy) ([]mb.Tag, int, error) {
	t, err := c.baseTag(path, tc, "1, 2, 3, 4")
	if err != nil {
		return nil, 0, err
	}
	limit := mb.MaxRead(t.Function)
	if t.Count > limit {
		return nil, 0, c.errorf(path+".objectsCount", "function %d reads at most %d objects, got %d", t.Function, limit, t.Count)
	}
	if t.Kind.Numeric() {
		have := 2 * t.Count
		if mb.IsBitFunction(t.Function) {
			have = (t.Count + 7) / 8
		}
		if have < t.Kind.Size() {
			return nil, 0, c.errorf(path+".objectsCount", "%v needs %d bytes; %d objects of function %d hold %d", t.Kind, t.Kind.Size(), t.Count, t.Function, have)
		}
	}
	if err := c.readOptions(path, tc, &t); err != nil {
		return nil, 0, err
	}
	t.Report = devReport
	if tc.ReportStrategy != nil {
		r, err := tc.ReportStrategy.Strategy()
		if err != nil {
			return nil, 0, c.errorf(path+".reportStrategy", "%v", err)
		}
		if r != nil {
			t.Report = r
		}
	}
	if tc.Value != nil && !d.local {
		c.warn(c.errorf(path+".value", "unknown key, ignored"))
	}
	// A single address, or a range.
	var rng string
	if json.Unmarshal(tc.Address, &rng) == nil && strings.Contains(rng, "-") {
		return c.rangeTags(path, t, rng, tc, d)
	}
	a, err := c.address(path+".address", tc.Address)
	if err != nil {
		return nil, 0, err
	}
	if a+t.Count > 0x10000 {
		return nil, 0, c.errorf(path+".address", "address %d + %d objects exceeds 65535", a, t.Count)
	}
	if tc.MaxRegistersPerRequest != nil {
		c.warn(c.errorf(path+".maxRegistersPerRequest", "applies to address ranges only; ignored"))
	}
	t.Address = uint16(a)
	return []mb.Tag{t}, 0, nil
}

// readOptions compiles the keys that shape a read value: divider,
// multiplier, round, bit, bitTargetType and variants.
func (c *compiler) readOptions(path string, tc *tagConfig, t *mb.Tag) error {
	if tc.Divider != nil {
		t.Divider = *tc.Divider
	}
	if tc.Multiplier != "" {
		f, err := tc.Multiplier.Float64()
		if err != nil {
			return c.errorf(path+".multiplier", "%v", err)
		}
		t.Multiplier = f
		t.MultiplierInt = !strings.ContainsAny(tc.Multiplier.String(), ".eE") && f == math.Trunc(f) && math.Abs(f) < 1<<53
	}
	if mb.IsBitFunction(t.Function) && (t.Divider != 0 || t.Multiplier != 0) {
		c.warn(c.errorf(path, "divider and multiplier apply to functions 3 and 4 only (as upstream); ignored"))
		t.Divider, t.Multiplier = 0, 0
	}
	if tc.Round != nil {
		t.Round = *tc.Round
	}
	if tc.Bit != nil {
		if *tc.Bit < 0 {
			return c.errorf(path+".bit", "must not be negative")
		}
		t.Bit = *tc.Bit
	}
	switch strings.ToLower(tc.BitTargetType) {
	case "", "bool":
	case "int":
		t.BitAsInt = true
	default:
		return c.errorf(path+".bitTargetType", "must be bool or int, got %q", tc.BitTargetType)
	}
	if len(tc.Variants) > 0 {
		t.Variants = make(map[string]any, len(tc.Variants))
		for k, raw := range tc.Variants {
			v, err := mb.VariantValue(raw)
			if err != nil {
				return c.errorf(path+".variants."+k, "%v", err)
			}
			t.Variants[k] = v
		}
	}
	return nil
}

// rangeTags expands an address range: objects start..end+objectsCount-1
// are read and every objectsCount of them make one value, keyed by the tag
// template (${address}, ${unitId}, ${functionCode}, ${type},
// ${objectsCount}; "_${address}" is appended when the tag does not
// mention the address).
func (c *compiler) rangeTags(path string, t mb.Tag, rng string, tc *tagConfig, d *slaveDef) ([]mb.Tag, int, error) {
	lo, hi, ok := strings.Cut(rng, "-")
	start, err1 := strconv.Atoi(strings.TrimSpace(lo))
	end, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start || end+t.Count > 0x10000 {
		return nil, 0, c.errorf(path+".address", "want an address or a range start-end, got %q", rng)
	}
	capacity := 0
	if tc.MaxRegistersPerRequest != nil {
		if *tc.MaxRegistersPerRequest < t.Count || *tc.MaxRegistersPerRequest > mb.MaxRead(t.Function) {
			return nil, 0, c.errorf(path+".maxRegistersPerRequest", "must be %d..%d", t.Count, mb.MaxRead(t.Function))
		}
		capacity = *tc.MaxRegistersPerRequest
	}
	key := t.Key
	if !strings.Contains(key, "address") {
		key += "_${address}"
	}
	last := end + t.Count - 1
	var out []mb.Tag
	for a := start; a <= last; a += t.Count {
		v := t
		v.Address = uint16(a)
		v.Count = min(t.Count, last-a+1)
		v.Key = strings.NewReplacer(
			"${address}", strconv.Itoa(a),
			"${unitId}", strconv.Itoa(int(d.unit)),
			"${functionCode}", strconv.Itoa(int(t.Function)),
			"${type}", tc.Type,
			"${objectsCount}", strconv.Itoa(t.Count),
		).Replace(key)
		out = append(out, v)
	}
	return out, capacity, nil
}

// writeTag compiles an attributeUpdates item (functions 5, 6, 15, 16) or
// an rpc item (also the reads 1-4).
func (c *compiler) writeTag(path string, tc *tagConfig, rpc bool) (mb.Tag, error) {
	fcs := "5, 6, 15, 16"
	if rpc {
		fcs = "1, 2, 3, 4, 5, 6, 15, 16"
	}
	t, err := c.baseTag(path, tc, fcs)
	if err != nil {
		return t, err
	}
	a, err := c.address(path+".address", tc.Address)
	if err != nil {
		return t, err
	}
	t.Address = uint16(a)
	switch t.Function {
	case mb.WriteSingleRegister:
		if n := mb.Words(t.Kind); n > 1 {
			c.note(c.errorf(path+".functionCode", "function 6 writes only the first of the %d registers of %v (as upstream); use 16", n, t.Kind))
		}
	case mb.WriteMultipleRegisters:
		if t.Count > mb.MaxWriteRegisters {
			return t, c.errorf(path+".objectsCount", "function 16 writes at most %d registers", mb.MaxWriteRegisters)
		}
	case mb.WriteMultipleCoils:
		if t.Count > mb.MaxWriteBits {
			return t, c.errorf(path+".objectsCount", "function 15 writes at most %d coils", mb.MaxWriteBits)
		}
	case mb.ReadCoils, mb.ReadDiscreteInputs, mb.ReadHoldingRegisters, mb.ReadInputRegisters:
		if t.Count > mb.MaxRead(t.Function) {
			return t, c.errorf(path+".objectsCount", "function %d reads at most %d objects", t.Function, mb.MaxRead(t.Function))
		}
		if err := c.readOptions(path, tc, &t); err != nil {
			return t, err
		}
	}
	return t, nil
}
