package ocpp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Protocol versions, named by their WebSocket subprotocol.
const (
	V16  = "ocpp1.6"
	V201 = "ocpp2.0.1"
)

// Message types (the first element of every OCPP-J frame).
const (
	Call       = 2
	CallResult = 3
	CallError  = 4
)

// Limits on the frame header.
const (
	MaxIDLen     = 36 // the spec's message id maximum
	MaxActionLen = 64
)

// Message is one decoded OCPP-J frame.
type Message struct {
	Type    int
	ID      string
	Action  string          // CALL only
	Payload json.RawMessage // CALL and CALLRESULT: a JSON object
	// CALLERROR only.
	ErrCode    string
	ErrDesc    string
	ErrDetails json.RawMessage
}

// Error is a protocol or validation error, with the OCPP error code the
// receiver answers with. ID is the message id when it could be read, else
// "-1" (as OCPP 2.0.1 prescribes for unreadable frames).
type Error struct {
	ID   string
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Kind classifies an error independently of the version's spelling.
type Kind uint8

// Kinds of errors; [Kind.Code] gives the version's error code.
const (
	KindFormat Kind = iota
	KindFramework
	KindProperty
	KindOccurrence
	KindType
	KindNotImplemented
	KindNotSupported
	KindInternal
	KindProtocol
	KindSecurity
	KindGeneric
)

// Code is the error code of k in OCPP version v (V16 or V201).
func (k Kind) Code(v string) string {
	v16 := v == V16
	switch k {
	case KindFormat:
		if v16 {
			return "FormationViolation"
		}
		return "FormatViolation"
	case KindFramework:
		if v16 {
			return "FormationViolation"
		}
		return "RpcFrameworkError"
	case KindProperty:
		return "PropertyConstraintViolation"
	case KindOccurrence:
		if v16 {
			return "OccurenceConstraintViolation" // sic, OCPP 1.6
		}
		return "OccurrenceConstraintViolation"
	case KindType:
		return "TypeConstraintViolation"
	case KindNotImplemented:
		return "NotImplemented"
	case KindNotSupported:
		return "NotSupported"
	case KindInternal:
		return "InternalError"
	case KindProtocol:
		return "ProtocolError"
	case KindSecurity:
		return "SecurityError"
	}
	return "GenericError"
}

func frameErr(id string, k Kind, format string, args ...any) *Error {
	if id == "" {
		id = "-1"
	}
	return &Error{ID: id, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Parse decodes one OCPP-J frame. On error it returns an *Error whose ID
// is the message id when one could be read.
func Parse(b []byte) (Message, error) {
	var m Message
	if !utf8.Valid(b) {
		return m, frameErr("", KindFramework, "message is not valid UTF-8")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		if json.Valid(b) {
			return m, frameErr("", KindFramework, "message is not a JSON array")
		}
		return m, frameErr("", KindFramework, "message is not valid JSON")
	}
	if len(parts) < 3 {
		return m, frameErr("", KindFramework, "message has %d elements, want at least 3", len(parts))
	}
	typ, err := strconv.Atoi(string(parts[0]))
	if err != nil {
		return m, frameErr("", KindFramework, "message type %.20s is not an integer", parts[0])
	}
	if err := json.Unmarshal(parts[1], &m.ID); err != nil {
		return m, frameErr("", KindFramework, "message id is not a string")
	}
	if m.ID == "" || len(m.ID) > MaxIDLen {
		id := m.ID
		m.ID = ""
		return m, frameErr("", KindFramework, "message id %.40q must have 1 to %d characters", id, MaxIDLen)
	}
	m.Type = typ
	switch typ {
	case Call:
		if len(parts) != 4 {
			return m, frameErr(m.ID, KindFormat, "CALL has %d elements, want 4", len(parts))
		}
		if err := json.Unmarshal(parts[2], &m.Action); err != nil || m.Action == "" || len(m.Action) > MaxActionLen {
			return m, frameErr(m.ID, KindFormat, "CALL action must be a non-empty string of at most %d characters", MaxActionLen)
		}
		m.Payload = parts[3]
		if !isObject(m.Payload) {
			return m, frameErr(m.ID, KindFormat, "%s payload must be a JSON object", m.Action)
		}
	case CallResult:
		if len(parts) != 3 {
			return m, frameErr(m.ID, KindFormat, "CALLRESULT has %d elements, want 3", len(parts))
		}
		m.Payload = parts[2]
		if !isObject(m.Payload) {
			return m, frameErr(m.ID, KindFormat, "CALLRESULT payload must be a JSON object")
		}
	case CallError:
		if len(parts) != 5 {
			return m, frameErr(m.ID, KindFormat, "CALLERROR has %d elements, want 5", len(parts))
		}
		if json.Unmarshal(parts[2], &m.ErrCode) != nil || json.Unmarshal(parts[3], &m.ErrDesc) != nil {
			return m, frameErr(m.ID, KindFormat, "CALLERROR code and description must be strings")
		}
		m.ErrDetails = parts[4]
		if !isObject(m.ErrDetails) {
			return m, frameErr(m.ID, KindFormat, "CALLERROR details must be a JSON object")
		}
	default:
		return m, frameErr(m.ID, KindFramework, "unknown message type %d", typ)
	}
	return m, nil
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{'
}

// AppendCall appends the frame [2,id,action,payload]. payload must be a
// JSON object (nil means {}).
func AppendCall(dst []byte, id, action string, payload []byte) []byte {
	dst = append(dst, `[2,`...)
	dst = appendString(dst, id)
	dst = append(dst, ',')
	dst = appendString(dst, action)
	dst = append(dst, ',')
	return appendObject(dst, payload)
}

// AppendResult appends the frame [3,id,payload].
func AppendResult(dst []byte, id string, payload []byte) []byte {
	dst = append(dst, `[3,`...)
	dst = appendString(dst, id)
	dst = append(dst, ',')
	return appendObject(dst, payload)
}

// AppendError appends the frame [4,id,code,description,{}].
func AppendError(dst []byte, id, code, desc string) []byte {
	dst = append(dst, `[4,`...)
	dst = appendString(dst, id)
	dst = append(dst, ',')
	dst = appendString(dst, code)
	dst = append(dst, ',')
	dst = appendString(dst, desc)
	return append(dst, `,{}]`...)
}

func appendObject(dst, payload []byte) []byte {
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte(`{}`)
	}
	dst = append(dst, payload...)
	return append(dst, ']')
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
