package opcua

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/codec/value"
)

// Value conversion from OPC-UA to the data model (int64, float64, bool,
// string, json.RawMessage):
//
//	Boolean                        bool
//	SByte … Int64, Byte … UInt32   int64
//	UInt64                         int64, float64 above MaxInt64
//	Float, Double                  float64 (Float by its shortest decimal form)
//	String, XmlElement             string
//	DateTime                       ISO-8601 UTC string, as Python's isoformat
//	Guid                           lower-case string
//	ByteString                     lower-case hex
//	NodeId, ExpandedNodeId         "ns=1;s=Name" form
//	QualifiedName                  "ns:Name"
//	LocalizedText                  its text
//	StatusCode                     its name ("BadTimeout")
//	ExtensionObject                JSON object of the decoded structure
//	DiagnosticInfo                 JSON object
//	Variant, DataValue             the inner value
//	arrays                         JSON array of the converted elements
//	Null                           no value (the datapoint is skipped)
//
// A bad status without a value becomes the text
// "Bad status code: <name> for node: <node id> with description <text>".

// statusName returns the symbolic name of a status code.
func statusName(c ua.StatusCode) string {
	if c == ua.StatusGood {
		return "Good"
	}
	if d, ok := ua.StatusCodes[c]; ok {
		return specName.Replace(strings.TrimPrefix(d.Name, "Status"))
	}
	// Unknown codes: name the severity with the code.
	return fmt.Sprintf("0x%08X", uint32(c))
}

// specName turns gopcua's Go-style status names back into the
// specification's (BadNodeIDUnknown -> BadNodeIdUnknown).
var specName = strings.NewReplacer("ID", "Id", "URI", "Uri", "URL", "Url", "TCP", "Tcp")

func statusText(c ua.StatusCode) string {
	if d, ok := ua.StatusCodes[c]; ok {
		return d.Text
	}
	return statusName(c)
}

func isBad(c ua.StatusCode) bool { return uint32(c)&0x80000000 != 0 }

// statusError is a bad status returned by the server. Its text is
// upstream's: the description followed by the name in parentheses, e.g.
// "The requested operation has no match to return.(BadNoMatch)"; RPC
// replies carry exactly this text.
type statusError ua.StatusCode

func (e statusError) Error() string {
	return statusText(ua.StatusCode(e)) + "(" + statusName(ua.StatusCode(e)) + ")"
}

// replyText is the text of an RPC error reply: a server status as upstream
// words it (without our context prefixes), else the error's text.
func replyText(err error) string {
	var se statusError
	if errors.As(err, &se) {
		return se.Error()
	}
	var sc ua.StatusCode
	if errors.As(err, &sc) && isBad(sc) {
		return statusError(sc).Error()
	}
	return err.Error()
}

// badStatusValue is the value upstream reports for a bad status.
func badStatusValue(c ua.StatusCode, node *ua.NodeID) string {
	return "Bad status code: " + statusName(c) + " for node: " + node.String() + " with description " + statusText(c)
}

// dataValue converts a data value read or received for node. ok is false
// when there is nothing to report (Null value with a good status).
func dataValue(dv *ua.DataValue, node *ua.NodeID) (v any, ok bool) {
	if dv == nil {
		return nil, false
	}
	var val any
	if dv.Value != nil {
		val = convertValue(dv.Value.Value())
	}
	if val == nil {
		if isBad(dv.Status) {
			return badStatusValue(dv.Status, node), true
		}
		return nil, false
	}
	return val, true
}

// variantValue converts a variant, nil for Null.
func variantValue(v *ua.Variant) any {
	if v == nil {
		return nil
	}
	return convertValue(v.Value())
}

// convertValue converts a decoded variant value. nil means no value.
func convertValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f
	case float64:
		return x
	case string:
		return x
	case ua.XMLElement:
		return string(x)
	case time.Time:
		return isoTime(x)
	case *ua.GUID:
		if x == nil {
			return nil
		}
		return strings.ToLower(x.String())
	case []byte:
		return hex.EncodeToString(x)
	case *ua.NodeID:
		if x == nil {
			return nil
		}
		return x.String()
	case *ua.ExpandedNodeID:
		if x == nil || x.NodeID == nil {
			return nil
		}
		s := x.NodeID.String()
		if x.NamespaceURI != "" {
			s = "nsu=" + x.NamespaceURI + ";" + stripNS(s)
		}
		if x.ServerIndex != 0 {
			s = "svr=" + strconv.FormatUint(uint64(x.ServerIndex), 10) + ";" + s
		}
		return s
	case ua.StatusCode:
		return statusName(x)
	case *ua.QualifiedName:
		if x == nil {
			return nil
		}
		return strconv.Itoa(int(x.NamespaceIndex)) + ":" + x.Name
	case *ua.LocalizedText:
		if x == nil {
			return nil
		}
		return x.Text
	case *ua.Variant:
		return variantValue(x)
	case *ua.DataValue:
		if x == nil || x.Value == nil {
			return nil
		}
		return variantValue(x.Value)
	case *ua.ExtensionObject:
		if x == nil {
			return nil
		}
		if x.Value == nil {
			if x.TypeID != nil && x.TypeID.NodeID != nil {
				return "ExtensionObject " + x.TypeID.NodeID.String()
			}
			return nil
		}
		return jsonValue(x.Value)
	case *ua.DiagnosticInfo:
		if x == nil {
			return nil
		}
		return jsonValue(x)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return jsonArray(rv)
	}
	return fmt.Sprint(v)
}

func stripNS(s string) string {
	if strings.HasPrefix(s, "ns=") {
		if i := strings.IndexByte(s, ';'); i >= 0 {
			return s[i+1:]
		}
	}
	return s
}

// jsonArray converts every element and encodes the list; multi-dimensional
// arrays nest.
func jsonArray(rv reflect.Value) json.RawMessage {
	out := make([]any, rv.Len())
	for i := range out {
		e := convertValue(rv.Index(i).Interface())
		if f, ok := e.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			e = nil
		}
		out[i] = e
	}
	b, err := json.Marshal(out)
	if err != nil {
		return json.RawMessage("[]")
	}
	return b
}

func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return json.RawMessage(b)
}

// isoTime formats t as Python's datetime.isoformat() of an aware UTC time:
// 2024-01-02T03:04:05.678000+00:00 (microseconds only when not zero).
func isoTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

// pyString formats a converted value as Python's str() would, for device
// names built from node values.
func pyString(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return value.Text(v)
}
