package snmp

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// octetMode says how an OCTET STRING becomes a value.
type octetMode uint8

const (
	octetAuto octetMode = iota // text when printable UTF-8, else hex
	octetText                  // always text (invalid UTF-8 replaced)
	octetHex                   // always hex
)

// scalar converts one varbind to a datapoint value: int64, float64, bool or
// string. ok is false for "no value" (noSuchObject, noSuchInstance,
// endOfMibView, NULL).
//
//   - INTEGER, Counter32, Gauge32, Unsigned32, Counter64 → int64
//     (a Counter64 above 2^63-1 → float64);
//   - TimeTicks → float64 seconds (hundredths / 100), as upstream;
//   - OCTET STRING → text or hex (mode); BITS and non-float Opaque → hex;
//   - OBJECT IDENTIFIER → dotted string without the leading dot;
//   - IpAddress → dotted quad; Opaque float/double → float64.
func scalar(pdu gosnmp.SnmpPDU, mode octetMode) (any, bool) {
	switch pdu.Type {
	case gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return nil, false
	case gosnmp.TimeTicks:
		if n, ok := toInt(pdu.Value); ok {
			return float64(n) / 100, true
		}
		return nil, false
	case gosnmp.OctetString:
		b, _ := pdu.Value.([]byte)
		return octets(b, mode), true
	case gosnmp.ObjectIdentifier:
		s, ok := pdu.Value.(string)
		return plainOID(s), ok
	case gosnmp.IPAddress:
		s, ok := pdu.Value.(string)
		return s, ok && s != ""
	case gosnmp.Boolean:
		if n, ok := toInt(pdu.Value); ok {
			return n != 0, true
		}
		return nil, false
	}
	switch v := pdu.Value.(type) {
	case nil:
		return nil, false
	case float32:
		return float64(v), true
	case float64:
		return v, true
	case []byte:
		return octets(v, octetHex), true
	case string:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return float64(v), true
		}
		return int64(v), true
	}
	if n, ok := toInt(pdu.Value); ok {
		return n, true
	}
	return fmt.Sprint(pdu.Value), true
}

// toInt reads the integer kinds gosnmp decodes to.
func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case uint:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case uint8:
		return int64(v), true
	}
	return 0, false
}

// octets renders an OCTET STRING. Hex is lower case, bytes separated by
// colons ("00:1a:2b"), the usual form of MAC addresses.
func octets(b []byte, mode octetMode) string {
	switch mode {
	case octetText:
		return strings.ToValidUTF8(string(b), "\uFFFD")
	case octetAuto:
		if printable(b) {
			return string(b)
		}
	}
	if len(b) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.Grow(len(b) * 3)
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

// printable reports whether b is UTF-8 text without control characters
// other than tab, CR and LF (a trailing NUL, common in C agents, is fine).
func printable(b []byte) bool {
	if len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\t' && r != '\r' && r != '\n' {
			return false
		}
	}
	return true
}

// setTypes are the value types a set accepts, by snmpset letter and name.
var setTypes = map[string]gosnmp.Asn1BER{
	"i": gosnmp.Integer, "integer": gosnmp.Integer, "int": gosnmp.Integer, "integer32": gosnmp.Integer,
	"u": gosnmp.Gauge32, "unsigned": gosnmp.Gauge32, "gauge": gosnmp.Gauge32, "gauge32": gosnmp.Gauge32, "unsigned32": gosnmp.Gauge32,
	"uinteger32": gosnmp.Uinteger32,
	"c":          gosnmp.Counter32, "counter": gosnmp.Counter32, "counter32": gosnmp.Counter32,
	"counter64": gosnmp.Counter64,
	"t":         gosnmp.TimeTicks, "timeticks": gosnmp.TimeTicks,
	"s": gosnmp.OctetString, "string": gosnmp.OctetString, "octetstring": gosnmp.OctetString,
	"x": gosnmp.OctetString, "hex": gosnmp.OctetString,
	"o": gosnmp.ObjectIdentifier, "oid": gosnmp.ObjectIdentifier, "objectidentifier": gosnmp.ObjectIdentifier,
	"a": gosnmp.IPAddress, "ipaddress": gosnmp.IPAddress, "ip": gosnmp.IPAddress,
}

func validType(t string) bool {
	_, ok := setTypes[strings.ToLower(t)]
	return ok
}

// setPDU builds the varbind that sets oid to v. typ names the SNMP type
// (setTypes); without it the type follows the value: a string is an OCTET
// STRING, a whole number an INTEGER, a boolean an INTEGER TruthValue
// (true 1, false 2), another number the OCTET STRING of its text.
func setPDU(oid string, v any, typ string) (gosnmp.SnmpPDU, error) {
	pdu := gosnmp.SnmpPDU{Name: oid}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			v = i
		} else if f, err := n.Float64(); err == nil {
			v = f
		} else {
			v = n.String()
		}
	}
	if typ == "" {
		switch x := v.(type) {
		case string:
			pdu.Type, pdu.Value = gosnmp.OctetString, x
			return pdu, nil
		case bool:
			pdu.Type, pdu.Value = gosnmp.Integer, 2
			if x {
				pdu.Value = 1
			}
			return pdu, nil
		case float64:
			if x != math.Trunc(x) || math.IsInf(x, 0) {
				pdu.Type, pdu.Value = gosnmp.OctetString, strconv.FormatFloat(x, 'f', -1, 64)
				return pdu, nil
			}
			typ = "i"
		case int, int64:
			typ = "i"
		case nil:
			return pdu, fmt.Errorf("no value to set")
		default:
			return pdu, fmt.Errorf("cannot set a %T; give a string or a number", v)
		}
	}
	return typedValue(typ, v)
}

// typedValue converts v (a string, number or boolean) to the SNMP type typ
// for oid "" (the caller fills the name).
func typedValue(typ string, v any) (gosnmp.SnmpPDU, error) {
	var pdu gosnmp.SnmpPDU
	lt := strings.ToLower(typ)
	t, ok := setTypes[lt]
	if !ok {
		return pdu, fmt.Errorf("unknown value type %q", typ)
	}
	s := valueText(v)
	pdu.Type = t
	switch t {
	case gosnmp.Integer:
		n, err := parseInt(s, math.MinInt32, math.MaxInt32)
		if err != nil {
			return pdu, err
		}
		pdu.Value = int(n)
	case gosnmp.Gauge32, gosnmp.Counter32, gosnmp.TimeTicks, gosnmp.Uinteger32:
		n, err := parseInt(s, 0, math.MaxUint32)
		if err != nil {
			return pdu, err
		}
		pdu.Value = uint32(n)
	case gosnmp.Counter64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return pdu, fmt.Errorf("not an unsigned 64-bit number: %q", s)
		}
		pdu.Value = n
	case gosnmp.OctetString:
		if lt == "x" || lt == "hex" {
			b, err := parseHex(s)
			if err != nil {
				return pdu, err
			}
			pdu.Value = b
		} else {
			pdu.Value = s
		}
	case gosnmp.ObjectIdentifier:
		o, err := canonOID(s)
		if err != nil {
			return pdu, err
		}
		pdu.Value = o
	case gosnmp.IPAddress:
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !a.Unmap().Is4() {
			return pdu, fmt.Errorf("not an IPv4 address: %q", s)
		}
		b := a.Unmap().As4()
		pdu.Value = b[:]
	}
	return pdu, nil
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

func parseInt(s string, lo, hi int64) (int64, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f > math.MaxInt64 {
			return 0, fmt.Errorf("not a whole number: %q", s)
		}
		n = int64(f)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// parseHex reads "001a2b", "00:1a:2b", "00 1A 2B" or "0x001a2b".
func parseHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	s = strings.NewReplacer(":", "", " ", "", "-", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not a hex string: %v", err)
	}
	return b, nil
}
