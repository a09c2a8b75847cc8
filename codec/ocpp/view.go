package ocpp

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Snake converts a camelCase member name to the snake_case name upstream
// configurations use (the Python ocpp library's conversion):
// meterValue → meter_value, connectorId → connector_id, SoC → so_c.
func Snake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= '0' && s[i-1] <= '9') {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// View returns the payload of a CALL as uplink converters see it: every
// object member is also reachable under its snake_case name (camelCase
// names stay, so both ${meterValue} and ${meter_value} resolve), and, when
// decodeStrings is set, string members holding a JSON object or array are
// replaced by that value (upstream decodes DataTransfer "data" this way).
// extra members are added at the top level. The result is compact JSON.
func View(payload []byte, decodeStrings bool, extra map[string]any) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	x = snakeValue(x, decodeStrings, 0)
	if m, ok := x.(map[string]any); ok {
		for k, v := range extra {
			if _, dup := m[k]; !dup {
				m[k] = v
			}
		}
	}
	return json.Marshal(x)
}

func snakeValue(x any, decodeStrings bool, depth int) any {
	switch v := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(v)*2)
		for k, e := range v {
			e = snakeValue(e, decodeStrings, depth+1)
			out[k] = e
			if s := Snake(k); s != k {
				if _, dup := v[s]; !dup {
					out[s] = e
				}
			}
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = snakeValue(e, decodeStrings, depth+1)
		}
		return v
	case string:
		if decodeStrings && depth == 1 {
			t := strings.TrimSpace(v)
			if len(t) > 1 && (t[0] == '{' || t[0] == '[') {
				dec := json.NewDecoder(strings.NewReader(t))
				dec.UseNumber()
				var y any
				if dec.Decode(&y) == nil && !dec.More() {
					return snakeValue(y, false, depth+1)
				}
			}
		}
	}
	return x
}
