package serial

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// encodeParams turns RPC params into the bytes written to the device, by
// the RPC's type: "int" the shortest integer bytes (two's complement for
// negative numbers) in the device's byte order, "float"/"double" IEEE 754
// single precision when the value survives it exactly, else double, any
// other type the text of a string (other JSON values as JSON).
func encodeParams(typ string, params json.RawMessage, bigEndian bool) ([]byte, error) {
	p := strings.TrimSpace(string(params))
	if p == "" || p == "null" {
		return nil, fmt.Errorf("no params to write")
	}
	switch typ {
	case "int":
		var n json.Number
		if err := json.Unmarshal([]byte(unquote(p)), &n); err != nil {
			return nil, fmt.Errorf("params %s: not an integer", clip([]byte(p)))
		}
		i, ok := new(big.Int).SetString(n.String(), 10)
		if !ok {
			return nil, fmt.Errorf("params %s: not an integer", clip([]byte(p)))
		}
		b := intBytes(i)
		if !bigEndian {
			for l, r := 0, len(b)-1; l < r; l, r = l+1, r-1 {
				b[l], b[r] = b[r], b[l]
			}
		}
		return b, nil
	case "float", "double":
		f, err := strconv.ParseFloat(unquote(p), 64)
		if err != nil {
			return nil, fmt.Errorf("params %s: not a number", clip([]byte(p)))
		}
		var order binary.AppendByteOrder = binary.BigEndian
		if !bigEndian {
			order = binary.LittleEndian
		}
		if f32 := float32(f); float64(f32) == f || math.IsNaN(f) {
			return order.AppendUint32(nil, math.Float32bits(f32)), nil
		}
		return order.AppendUint64(nil, math.Float64bits(f)), nil
	default:
		var s string
		if json.Unmarshal([]byte(p), &s) == nil {
			if s == "" {
				return nil, fmt.Errorf("no params to write")
			}
			return []byte(s), nil
		}
		return []byte(p), nil
	}
}

// unquote accepts a number sent as a JSON string ("42").
func unquote(p string) string {
	if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
		return strings.TrimSpace(p[1 : len(p)-1])
	}
	return p
}

// intBytes is the shortest big-endian two's complement form of i; zero is
// one zero byte.
func intBytes(i *big.Int) []byte {
	if i.Sign() >= 0 {
		b := i.Bytes()
		if len(b) == 0 {
			return []byte{0}
		}
		return b
	}
	// Negative: find the smallest n with -2^(8n-1) <= i.
	n := 1
	for {
		lim := new(big.Int).Lsh(big.NewInt(1), uint(8*n-1))
		if i.Cmp(new(big.Int).Neg(lim)) >= 0 {
			break
		}
		n++
	}
	m := new(big.Int).Add(i, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	b := m.Bytes()
	for len(b) < n {
		b = append([]byte{0}, b...)
	}
	return b
}

// render fills a stringToDevice template.
func render(tmpl, key string, value any, device, deviceType string) string {
	r := strings.NewReplacer("${"+key+"}", valueText(value), "${deviceName}", device, "${deviceType}", deviceType)
	return r.Replace(tmpl)
}

// valueText is the text of an attribute value in a device string.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case json.RawMessage:
		return string(x)
	case nil:
		return "null"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
