package knx

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// kind is the wire encoding of a datapoint main type.
type kind uint8

const (
	kBool   kind = iota // DPT 1: 1 bit, in the APCI
	kCtrl2              // DPT 2: 2 bits, in the APCI
	kCtrl4              // DPT 3: 4 bits, in the APCI
	kScale              // DPT 5.001/5.003: 0..255 scaled to a range
	kU8                 // DPT 5, 17, 20
	kS8                 // DPT 6
	kU16                // DPT 7
	kS16                // DPT 8
	kF16                // DPT 9
	kU32                // DPT 12
	kS32                // DPT 13
	kF32                // DPT 14
	kString             // DPT 16: 14 bytes
)

// DPT is a datapoint type: how a group address's value is encoded.
type DPT struct {
	ID   string // "9.001"
	Name string // xknx value type, e.g. "temperature"
	kind kind
	max  float64 // kScale: the value range 0..max
	// latin1: DPT 16.001 (else ASCII)
	latin1 bool
}

func (t *DPT) String() string { return "DPT " + t.ID }

// Main types without a sub type given ("9", "DPT9").
var mainKinds = map[int]kind{1: kBool, 2: kCtrl2, 3: kCtrl4, 5: kU8, 6: kS8, 7: kU16, 8: kS16, 9: kF16,
	12: kU32, 13: kS32, 14: kF32, 16: kString, 17: kU8, 20: kU8}

// Names: xknx value types, as upstream configurations write them
// ("type" of a datapoint, "dataType" of writes), and their DPT.
var names = sync.OnceValue(func() map[string]string {
	return map[string]string{
		// DPT 1
		"binary": "1.001", "switch": "1.001", "bool": "1.002", "boolean": "1.002", "enable": "1.003", "ramp": "1.004",
		"alarm": "1.005", "binary_value": "1.006", "step": "1.007", "up_down": "1.008", "open_close": "1.009",
		"start": "1.010", "state": "1.011", "invert": "1.012", "dim_send_style": "1.013", "input_source": "1.014",
		"reset": "1.015", "ack": "1.016", "trigger": "1.017", "occupancy": "1.018", "window_door": "1.019",
		"logical_function": "1.021", "scene_ab": "1.022", "shutter_blinds_mode": "1.023", "day_night": "1.024",
		"heat_cool": "1.100",
		// DPT 2, 3
		"switch_control": "2.001", "bool_control": "2.002", "control_dimming": "3.007", "control_blinds": "3.008",
		// DPT 5
		"1byte_unsigned": "5.000", "percent": "5.001", "scaling": "5.001", "angle": "5.003", "percentU8": "5.004",
		"precent_U8": "5.004", // sic: upstream's sample spells it so
		"percent_u8": "5.004", "decimal_factor": "5.005", "tariff": "5.006", "pulse": "5.010", "value_1_ucount": "5.010",
		// DPT 6
		"1byte_signed": "6.000", "percentV8": "6.001", "counter_pulses": "6.010", "value_1_count": "6.010",
		// DPT 7
		"2byte_unsigned": "7.000", "pulse_2byte": "7.001", "time_period_msec": "7.002", "time_period_10msec": "7.003",
		"time_period_100msec": "7.004", "time_period_sec": "7.005", "time_period_min": "7.006", "time_period_hrs": "7.007",
		"length_mm": "7.011", "current": "7.012", "brightness": "7.013", "color_temperature": "7.600",
		// DPT 8
		"2byte_signed": "8.000", "pulse_2byte_signed": "8.001", "delta_time_ms": "8.002", "delta_time_10ms": "8.003",
		"delta_time_100ms": "8.004", "delta_time_sec": "8.005", "delta_time_min": "8.006", "delta_time_hrs": "8.007",
		"percentV16": "8.010", "rotation_angle": "8.011", "length_m": "8.012",
		// DPT 9
		"2byte_float": "9.000", "temperature": "9.001", "temperature_difference_2byte": "9.002", "temperature_a": "9.003",
		"illuminance": "9.004", "wind_speed_ms": "9.005", "pressure_2byte": "9.006", "humidity": "9.007",
		"ppm": "9.008", "air_flow": "9.009", "time_1": "9.010", "time_2": "9.011", "voltage": "9.020", "curr": "9.021",
		"power_density": "9.022", "kelvin_per_percent": "9.023", "power_2byte": "9.024", "volume_flow": "9.025",
		"rain_amount": "9.026", "temperature_f": "9.027", "wind_speed_kmh": "9.028", "absolute_humidity": "9.029",
		"concentration_ugm3": "9.030",
		// DPT 12, 13
		"4byte_unsigned": "12.001", "pulse_4_ucount": "12.001", "long_time_period_sec": "12.100",
		"long_time_period_min": "12.101", "long_time_period_hrs": "12.102",
		"4byte_signed": "13.001", "pulse_4byte": "13.001", "flow_rate_m3h": "13.002", "active_energy": "13.010",
		"apparant_energy": "13.011", "reactive_energy": "13.012", "active_energy_kwh": "13.013",
		"apparant_energy_kvah": "13.014", "reactive_energy_kvarh": "13.015", "long_delta_timesec": "13.100",
		// DPT 14
		"4byte_float": "14.000", "acceleration": "14.000", "acceleration_angular": "14.001", "activation_energy": "14.002",
		"activity": "14.003", "mol": "14.004", "amplitude": "14.005", "angle_rad": "14.006", "angle_deg": "14.007",
		"angular_momentum": "14.008", "angular_velocity": "14.009", "area": "14.010", "capacitance": "14.011",
		"charge_density_surface": "14.012", "charge_density_volume": "14.013", "compressibility": "14.014",
		"conductance": "14.015", "electrical_conductivity": "14.016", "density": "14.017", "electric_charge": "14.018",
		"electric_current": "14.019", "electric_current_density": "14.020", "electric_dipole_moment": "14.021",
		"electric_displacement": "14.022", "electric_field_strength": "14.023", "electric_flux": "14.024",
		"electric_flux_density": "14.025", "electric_polarization": "14.026", "electric_potential": "14.027",
		"electric_potential_difference": "14.028", "electromagnetic_moment": "14.029", "electromotive_force": "14.030",
		"energy": "14.031", "force": "14.032", "frequency": "14.033", "angular_frequency": "14.034",
		"heatcapacity": "14.035", "heatflowrate": "14.036", "heat_quantity": "14.037", "impedance": "14.038",
		"length": "14.039", "light_quantity": "14.040", "luminance": "14.041", "luminous_flux": "14.042",
		"luminous_intensity": "14.043", "magnetic_field_strength": "14.044", "magnetic_flux": "14.045",
		"magnetic_flux_density": "14.046", "magnetic_moment": "14.047", "magnetic_polarization": "14.048",
		"magnetization": "14.049", "magnetomotive_force": "14.050", "mass": "14.051", "mass_flux": "14.052",
		"momentum": "14.053", "phaseanglerad": "14.054", "phaseangledeg": "14.055", "power": "14.056",
		"powerfactor": "14.057", "pressure": "14.058", "reactance": "14.059", "resistance": "14.060",
		"resistivity": "14.061", "self_inductance": "14.062", "solid_angle": "14.063", "sound_intensity": "14.064",
		"speed": "14.065", "stress": "14.066", "surface_tension": "14.067", "common_temperature": "14.068",
		"absolute_temperature": "14.069", "temperature_difference": "14.070", "thermal_capacity": "14.071",
		"thermal_conductivity": "14.072", "thermoelectric_power": "14.073", "time_seconds": "14.074",
		"torque": "14.075", "volume": "14.076", "volume_flux": "14.077", "weight": "14.078", "work": "14.079",
		"apparent_power": "14.080",
		// DPT 16, 17, 20
		"string": "16.000", "latin_1": "16.001", "scene_number": "17.001", "hvac_mode": "20.102",
	}
})

// LookupDPT finds a datapoint type by name ("temperature", any case) or
// number ("9.001", "9", "DPT9.001", "DPST-9-1").
func LookupDPT(s string) (*DPT, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return nil, errors.New("empty datapoint type")
	}
	id, ok := names()[in]
	if !ok {
		for n, v := range names() {
			if strings.EqualFold(n, in) {
				id, ok = v, true
				break
			}
		}
	}
	name := ""
	if ok {
		name = in
	} else {
		id = in
	}
	main, sub, err := parseID(id)
	if err != nil {
		return nil, fmt.Errorf("datapoint type %q: not a known name or DPT number", s)
	}
	k, ok := mainKinds[main]
	if !ok {
		return nil, fmt.Errorf("datapoint type %q: DPT %d is not supported", s, main)
	}
	t := &DPT{ID: fmt.Sprintf("%d.%03d", main, sub), Name: name, kind: k}
	switch {
	case main == 5 && sub == 1:
		t.kind, t.max = kScale, 100
	case main == 5 && sub == 3:
		t.kind, t.max = kScale, 360
	case main == 16 && sub == 1:
		t.latin1 = true
	}
	return t, nil
}

func parseID(s string) (main, sub int, err error) {
	u := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(u, "DPST-"):
		p := strings.Split(u[5:], "-")
		if len(p) != 2 {
			return 0, 0, errors.New("bad DPST")
		}
		u = p[0] + "." + p[1]
	case strings.HasPrefix(u, "DPT-"):
		u = u[4:]
	case strings.HasPrefix(u, "DPT"):
		u = strings.TrimLeft(u[3:], " _")
	}
	a, b, hasSub := strings.Cut(u, ".")
	if main, err = strconv.Atoi(a); err != nil || main < 0 {
		return 0, 0, errors.New("bad DPT")
	}
	if hasSub {
		if sub, err = strconv.Atoi(b); err != nil || sub < 0 {
			return 0, 0, errors.New("bad DPT")
		}
	}
	return main, sub, nil
}

// Small reports whether the type travels inside the APCI (DPT 1-3).
func (t *DPT) Small() bool { return t.kind <= kCtrl4 }

// Encode turns a value (bool, number, numeric string or JSON number;
// strings for DPT 16) into the APDU payload: for Small types the 6-bit
// value in small, else data.
func (t *DPT) Encode(v any) (data []byte, small byte, err error) {
	switch t.kind {
	case kBool:
		b, err := toBool(v)
		if err != nil {
			return nil, 0, t.err(v, err)
		}
		if b {
			return nil, 1, nil
		}
		return nil, 0, nil
	case kString:
		s := toString(v)
		out := make([]byte, 14)
		i := 0
		for _, r := range s {
			if i == 14 {
				return nil, 0, t.err(v, errors.New("longer than 14 characters"))
			}
			if r > 0x7f && !t.latin1 || r > 0xff {
				return nil, 0, t.err(v, fmt.Errorf("character %q is not encodable", r))
			}
			out[i] = byte(r)
			i++
		}
		return out, 0, nil
	}
	f, err := toFloat(v)
	if err != nil {
		return nil, 0, t.err(v, err)
	}
	rng := func(lo, hi float64) error {
		if f < lo || f > hi || math.IsNaN(f) {
			return t.err(v, fmt.Errorf("out of range %g..%g", lo, hi))
		}
		return nil
	}
	whole := func() error {
		if f != math.Trunc(f) {
			return t.err(v, errors.New("not an integer"))
		}
		return nil
	}
	switch t.kind {
	case kCtrl2, kCtrl4:
		hi := 3.0
		if t.kind == kCtrl4 {
			hi = 15
		}
		if err := rng(0, hi); err != nil {
			return nil, 0, err
		}
		if err := whole(); err != nil {
			return nil, 0, err
		}
		return nil, byte(f), nil
	case kScale:
		if err := rng(0, t.max); err != nil {
			return nil, 0, err
		}
		return []byte{byte(math.Round(f * 255 / t.max))}, 0, nil
	case kU8:
		if err := rng(0, 255); err != nil {
			return nil, 0, err
		}
		return []byte{byte(math.Round(f))}, 0, whole()
	case kS8:
		if err := rng(-128, 127); err != nil {
			return nil, 0, err
		}
		return []byte{byte(int8(math.Round(f)))}, 0, whole()
	case kU16:
		if err := rng(0, 65535); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.AppendUint16(nil, uint16(math.Round(f))), 0, whole()
	case kS16:
		if err := rng(-32768, 32767); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.AppendUint16(nil, uint16(int16(math.Round(f)))), 0, whole()
	case kF16:
		if err := rng(-671088.64, 670433.28); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.AppendUint16(nil, encodeF16(f)), 0, nil
	case kU32:
		if err := rng(0, math.MaxUint32); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.AppendUint32(nil, uint32(math.Round(f))), 0, whole()
	case kS32:
		if err := rng(math.MinInt32, math.MaxInt32); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(math.Round(f)))), 0, whole()
	case kF32:
		if math.IsNaN(f) || math.IsInf(float64(float32(f)), 0) {
			return nil, 0, t.err(v, errors.New("not a finite 32-bit float"))
		}
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), 0, nil
	}
	return nil, 0, t.err(v, errors.New("unsupported"))
}

func (t *DPT) err(v any, err error) error {
	return fmt.Errorf("DPT %s: value %.40v: %w", t.ID, v, err)
}

// Decode reads a value from an APDU payload (data, or the 6-bit small
// value for Small types): bool, int64, float64 or string.
func (t *DPT) Decode(data []byte, small byte, isSmall bool) (any, error) {
	if t.Small() {
		if !isSmall {
			if len(data) == 1 { // some devices send small values as a byte
				small = data[0]
			} else {
				return nil, fmt.Errorf("DPT %s: want a 6-bit value, got %d bytes", t.ID, len(data))
			}
		}
		switch t.kind {
		case kBool:
			return small&1 == 1, nil
		case kCtrl2:
			return int64(small & 3), nil
		default:
			return int64(small & 15), nil
		}
	}
	if want := t.size(); len(data) != want {
		return nil, fmt.Errorf("DPT %s: want %d bytes, got %d", t.ID, t.size(), len(data))
	}
	switch t.kind {
	case kScale:
		return math.Round(float64(data[0])*t.max/255*100) / 100, nil
	case kU8:
		return int64(data[0]), nil
	case kS8:
		return int64(int8(data[0])), nil
	case kU16:
		return int64(binary.BigEndian.Uint16(data)), nil
	case kS16:
		return int64(int16(binary.BigEndian.Uint16(data))), nil
	case kF16:
		raw := binary.BigEndian.Uint16(data)
		if raw == 0x7fff {
			return nil, fmt.Errorf("DPT %s: the sender marks its value invalid (0x7fff)", t.ID)
		}
		return decodeF16(raw), nil
	case kU32:
		return int64(binary.BigEndian.Uint32(data)), nil
	case kS32:
		return int64(int32(binary.BigEndian.Uint32(data))), nil
	case kF32:
		f := float64(math.Float32frombits(binary.BigEndian.Uint32(data)))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("DPT %s: not a finite number", t.ID)
		}
		// Shortest decimal that round-trips the 32-bit value.
		f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
		return f, nil
	case kString:
		end := len(data)
		for i, c := range data {
			if c == 0 {
				end = i
				break
			}
		}
		var b strings.Builder
		for _, c := range data[:end] {
			if c > 0x7f && !t.latin1 {
				return nil, fmt.Errorf("DPT %s: byte 0x%02x is not ASCII", t.ID, c)
			}
			b.WriteRune(rune(c))
		}
		return b.String(), nil
	}
	return nil, fmt.Errorf("DPT %s: unsupported", t.ID)
}

// size is the payload length of a non-small type.
func (t *DPT) size() int {
	switch t.kind {
	case kScale, kU8, kS8:
		return 1
	case kU16, kS16, kF16:
		return 2
	case kU32, kS32, kF32:
		return 4
	case kString:
		return 14
	}
	return 0
}

func encodeF16(f float64) uint16 {
	v := math.Round(f * 100)
	e := 0
	for v < -2048 || v > 2047 {
		e++
		v = math.Round(f * 100 / float64(int(1)<<e))
	}
	m := int(v)
	var sign uint16
	if m < 0 {
		sign = 0x8000
		m += 2048
	}
	return sign | uint16(e)<<11 | uint16(m)&0x7ff
}

func decodeF16(raw uint16) float64 {
	m := int(raw & 0x7ff)
	if raw&0x8000 != 0 {
		m -= 2048
	}
	e := int(raw>>11) & 0xf
	return math.Round(float64(m)*float64(int(1)<<e)) / 100
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "true", "on", "yes", "y", "t":
			return true, nil
		case "0", "false", "off", "no", "n", "f":
			return false, nil
		}
		return false, errors.New("not a boolean")
	}
	f, err := toFloat(v)
	if err != nil {
		return false, err
	}
	return f != 0, nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, errors.New("not a number")
		}
		return f, nil
	}
	return 0, fmt.Errorf("%T is not a number", v)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	if utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprint(v)
}
