// Package tbjson encodes converted device data into the records the event
// storage keeps, and assembles those records into ThingsBoard gateway-API
// JSON payloads without parsing them again.
//
// # Record format (version 1)
//
// A record holds the data of one device, with its values already rendered
// as JSON fragments, so that the uplink loop only concatenates:
//
//	byte    version (1)
//	uvarint len, device name
//	uvarint len, device type
//	uvarint number of datapoints (attributes + telemetry values)
//	uvarint len, attributes: JSON object members without braces, `"k":v,"k2":v2`
//	uvarint len, telemetry: JSON array elements without brackets,
//	             `{"ts":1,"values":{"k":v}},{"ts":2,"values":{...}}`
//
// Either fragment may be empty. A later release reads older versions by the
// first byte.
package tbjson

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tbgw/tbgw/codec"
)

// Version is the record format version written by AppendRecord.
const Version = 1

// Event is a decoded record. Its slices point into the record.
type Event struct {
	Device     []byte
	Type       []byte
	Points     int    // datapoints in the record
	Attributes []byte // object members, no braces
	Telemetry  []byte // array elements, no brackets
}

// ErrRecord reports a record that cannot be decoded.
var ErrRecord = errors.New("tbjson: malformed record")

// DecodeRecord splits a record into its parts without copying.
func DecodeRecord(rec []byte) (Event, error) {
	var ev Event
	if len(rec) == 0 {
		return ev, fmt.Errorf("%w: empty", ErrRecord)
	}
	if rec[0] != Version {
		return ev, fmt.Errorf("%w: unknown version %d", ErrRecord, rec[0])
	}
	p := rec[1:]
	var parts [4][]byte
	var points uint64
	for i := range parts {
		if i == 2 {
			n, k := binary.Uvarint(p)
			if k <= 0 || n > uint64(len(rec)) {
				return Event{}, fmt.Errorf("%w: bad datapoint count", ErrRecord)
			}
			points = n
			p = p[k:]
		}
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return Event{}, fmt.Errorf("%w: bad length of part %d", ErrRecord, i)
		}
		parts[i] = p[k : k+int(n)]
		p = p[k+int(n):]
	}
	if len(p) != 0 {
		return Event{}, fmt.Errorf("%w: %d trailing bytes", ErrRecord, len(p))
	}
	if len(parts[0]) == 0 {
		return Event{}, fmt.Errorf("%w: no device name", ErrRecord)
	}
	return Event{Device: parts[0], Type: parts[1], Points: int(points), Attributes: parts[2], Telemetry: parts[3]}, nil
}

// AppendRecord appends the record of d to dst. Telemetry points must all
// have a timestamp (TS != 0); points sharing a timestamp are grouped into
// one entry in order of first appearance.
func AppendRecord(dst []byte, d *codec.Data) []byte {
	dst = append(dst, Version)
	dst = appendPart(dst, d.Device)
	dst = appendPart(dst, d.Type)
	dst = binary.AppendUvarint(dst, uint64(len(d.Attributes)+len(d.Telemetry)))

	// Attributes: reserve a length slot by rendering into a scratch tail.
	start := len(dst)
	dst = AppendMembers(dst, d.Attributes)
	dst = insertLen(dst, start)

	start = len(dst)
	dst = AppendEntries(dst, d.Telemetry)
	dst = insertLen(dst, start)
	return dst
}

func appendPart(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// insertLen turns dst[start:] into a uvarint-length-prefixed part.
func insertLen(dst []byte, start int) []byte {
	n := len(dst) - start
	var hdr [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(hdr[:], uint64(n))
	dst = append(dst, hdr[:k]...) // grow by k
	copy(dst[start+k:], dst[start:start+n])
	copy(dst[start:], hdr[:k])
	return dst
}

// AppendMembers renders points as JSON object members `"k":v,...`.
func AppendMembers(dst []byte, pts []codec.Point) []byte {
	for i := range pts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, pts[i].Key)
		dst = append(dst, ':')
		dst = AppendValue(dst, pts[i].Value)
	}
	return dst
}

// AppendEntries renders telemetry points as `{"ts":..,"values":{..}}`
// entries, grouping points of equal timestamp.
func AppendEntries(dst []byte, pts []codec.Point) []byte {
	first := true
	for i := range pts {
		ts := pts[i].TS
		// Skip timestamps already rendered by an earlier point.
		seen := false
		for j := 0; j < i; j++ {
			if pts[j].TS == ts {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `{"ts":`...)
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, `,"values":{`...)
		n := 0
		for j := i; j < len(pts); j++ {
			if pts[j].TS != ts {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = AppendString(dst, pts[j].Key)
			dst = append(dst, ':')
			dst = AppendValue(dst, pts[j].Value)
		}
		dst = append(dst, "}}"...)
	}
	return dst
}

// AppendValue renders a data-model value as JSON. NaN and infinities become
// null, as upstream does; unknown types are rendered with encoding/json.
func AppendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return AppendFloat(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case string:
		return AppendString(dst, x)
	case json.RawMessage:
		if len(x) == 0 {
			return append(dst, "null"...)
		}
		return append(dst, x...)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case float32:
		return AppendFloat(dst, float64(x))
	case nil:
		return append(dst, "null"...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return AppendString(dst, fmt.Sprint(v))
	}
	return append(dst, b...)
}

// AppendFloat renders f as Python's repr does (upstream's json.dumps): a
// float always reads as a float, so ThingsBoard stores the key as a double
// even when the value is whole (25.0, -0.0, 1e+16). NaN and infinities
// become null. Shortest round-trip digits; scientific notation when the
// decimal exponent is below -4 or at least 16, with a two-digit exponent.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	// The shortest representation's exponent is below -4 exactly when
	// |f| < 1e-4, and at least 16 exactly when |f| >= 1e16.
	if abs := math.Abs(f); abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const hex = "0123456789abcdef"

// AppendString renders s as a JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
