package ocpp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The request structures a CSMS accepts from charge points, in a compact
// notation read once at start-up:
//
//	{name!:type, ...}  object; ! marks a required member
//	[type] [type]+     array; + requires at least one element
//	s s20              string, optionally with a maximum length
//	t                  date-time string (RFC 3339)
//	i n b              integer, number, boolean
//	e(A|B)             string enumeration
//	*                  anything
//
// Members not listed are accepted (vendor extensions).
var requests = map[string]map[string]string{
	V16: {
		"BootNotification": `{chargePointVendor!:s20, chargePointModel!:s20, chargePointSerialNumber:s25,
			chargeBoxSerialNumber:s25, firmwareVersion:s50, iccid:s20, imsi:s20, meterType:s25, meterSerialNumber:s25}`,
		"Heartbeat": `{}`,
		"StatusNotification": `{connectorId!:i, errorCode!:s50, info:s50, status!:e(Available|Preparing|Charging|
			SuspendedEVSE|SuspendedEV|Finishing|Reserved|Unavailable|Faulted), timestamp:t, vendorId:s255, vendorErrorCode:s50}`,
		"Authorize":        `{idTag!:s20}`,
		"StartTransaction": `{connectorId!:i, idTag!:s20, meterStart!:i, reservationId:i, timestamp!:t}`,
		"StopTransaction": `{idTag:s20, meterStop!:i, timestamp!:t, transactionId!:i, reason:s,
			transactionData:[{timestamp!:t, sampledValue!:[{value!:s}]}]}`,
		"MeterValues":                   `{connectorId!:i, transactionId:i, meterValue!:[{timestamp!:t, sampledValue!:[{value!:s}]}]}`,
		"DataTransfer":                  `{vendorId!:s255, messageId:s50, data:s}`,
		"DiagnosticsStatusNotification": `{status!:e(Idle|Uploaded|UploadFailed|Uploading)}`,
		"FirmwareStatusNotification": `{status!:e(Downloaded|DownloadFailed|Downloading|Idle|InstallationFailed|
			Installing|Installed)}`,
	},
	V201: {
		"BootNotification": `{chargingStation!:{serialNumber:s25, model!:s20, modem:{iccid:s20, imsi:s20},
			vendorName!:s50, firmwareVersion:s50}, reason!:s}`,
		"Heartbeat":          `{}`,
		"StatusNotification": `{timestamp!:t, connectorStatus!:e(Available|Occupied|Reserved|Unavailable|Faulted), evseId!:i, connectorId!:i}`,
		"Authorize":          `{idToken!:{idToken!:s36, type!:s}, certificate:s5500}`,
		"TransactionEvent": `{eventType!:e(Ended|Started|Updated), timestamp!:t, triggerReason!:s, seqNo!:i, offline:b,
			numberOfPhasesUsed:i, cableMaxCurrent:i, reservationId:i,
			transactionInfo!:{transactionId!:s36, chargingState:s, timeSpentCharging:i, stoppedReason:s, remoteStartId:i},
			evse:{id!:i, connectorId:i}, idToken:{idToken!:s36, type!:s},
			meterValue:[{timestamp!:t, sampledValue!:[{value!:n}]+}]+}`,
		"MeterValues":                `{evseId!:i, meterValue!:[{timestamp!:t, sampledValue!:[{value!:n}]+}]+}`,
		"DataTransfer":               `{vendorId!:s255, messageId:s50, data:*}`,
		"NotifyEvent":                `{generatedAt!:t, tbc:b, seqNo!:i, eventData!:[{eventId!:i, timestamp!:t, trigger!:s, actualValue!:s2500}]+}`,
		"SecurityEventNotification":  `{type!:s50, timestamp!:t, techInfo:s255}`,
		"FirmwareStatusNotification": `{status!:s, requestId:i}`,
		"LogStatusNotification":      `{status!:s, requestId:i}`,
		"NotifyReport":               `{requestId!:i, generatedAt!:t, tbc:b, seqNo!:i, reportData:[*]+}`,
	},
}

// shape is one compiled type of the notation above.
type shape struct {
	kind    byte // '{' '[' 's' 't' 'i' 'n' 'b' 'e' '*'
	max     int  // string length; 0 = unbounded
	nonEmpt bool // array: at least one element
	elem    *shape
	fields  []field
	enum    []string
}

type field struct {
	name     string
	required bool
	shape    *shape
}

// compiled holds the shapes of requests, parsed on first use: a gateway
// without an OCPP connector never pays for them.
var compiled = sync.OnceValue(func() map[string]map[string]*shape {
	out := make(map[string]map[string]*shape, len(requests))
	for v, m := range requests {
		out[v] = make(map[string]*shape, len(m))
		for action, src := range m {
			p := &dslParser{s: src}
			sh := p.shape()
			p.skip()
			if p.err == nil && p.i != len(p.s) {
				p.fail("trailing text")
			}
			if p.err != nil {
				panic(fmt.Sprintf("ocpp: schema %s %s: %v", v, action, p.err))
			}
			out[v][action] = sh
		}
	}
	return out
})

// Known reports whether action is a charge-point-initiated request of
// version v that Validate checks.
func Known(v, action string) bool {
	_, ok := compiled()[v][action]
	return ok
}

// Validate checks a CALL payload of action in version v. It returns nil
// for an action it does not know (the caller decides whether it is
// implemented) and an *Error with the matching kind otherwise.
func Validate(v, action string, payload []byte) error {
	sh, ok := compiled()[v][action]
	if !ok {
		return nil
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return &Error{ID: "-1", Kind: KindFormat, Msg: "payload is not valid JSON"}
	}
	if err := check(sh, x, ""); err != nil {
		return err
	}
	return nil
}

func check(sh *shape, x any, path string) *Error {
	bad := func(k Kind, format string, args ...any) *Error {
		p := path
		if p == "" {
			p = "payload"
		}
		return &Error{Kind: k, Msg: p + ": " + fmt.Sprintf(format, args...)}
	}
	switch sh.kind {
	case '*':
		return nil
	case '{':
		m, ok := x.(map[string]any)
		if !ok {
			return bad(KindType, "must be an object")
		}
		for _, f := range sh.fields {
			v, ok := m[f.name]
			if !ok {
				if f.required {
					return bad(KindOccurrence, "required member %q is missing", f.name)
				}
				continue
			}
			if err := check(f.shape, v, join(path, f.name)); err != nil {
				return err
			}
		}
	case '[':
		a, ok := x.([]any)
		if !ok {
			return bad(KindType, "must be an array")
		}
		if sh.nonEmpt && len(a) == 0 {
			return bad(KindOccurrence, "must have at least one element")
		}
		for i, v := range a {
			if err := check(sh.elem, v, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case 's', 't', 'e':
		s, ok := x.(string)
		if !ok {
			return bad(KindType, "must be a string")
		}
		if sh.max > 0 && utf8.RuneCountInString(s) > sh.max {
			return bad(KindProperty, "longer than %d characters", sh.max)
		}
		if sh.kind == 't' {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return bad(KindProperty, "%.40q is not an RFC 3339 date-time", s)
			}
		}
		if sh.kind == 'e' {
			for _, e := range sh.enum {
				if s == e {
					return nil
				}
			}
			return bad(KindProperty, "%.40q is not one of %s", s, strings.Join(sh.enum, ", "))
		}
	case 'i', 'n':
		n, ok := x.(json.Number)
		if !ok {
			return bad(KindType, "must be a number")
		}
		if sh.kind == 'i' {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				// 5.0 is an integer in JSON Schema.
				f, ferr := n.Float64()
				if ferr != nil || f != float64(int64(f)) {
					return bad(KindType, "must be an integer")
				}
			}
		}
	case 'b':
		if _, ok := x.(bool); !ok {
			return bad(KindType, "must be a boolean")
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

type dslParser struct {
	s   string
	i   int
	err error
}

func (p *dslParser) fail(msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("at %d: %s", p.i, msg)
	}
}

func (p *dslParser) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *dslParser) peek() byte {
	p.skip()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *dslParser) word() string {
	p.skip()
	j := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			p.i++
			continue
		}
		break
	}
	return p.s[j:p.i]
}

func (p *dslParser) expect(c byte) {
	if p.peek() != c {
		p.fail(fmt.Sprintf("want %q", c))
		return
	}
	p.i++
}

func (p *dslParser) shape() *shape {
	if p.err != nil {
		return &shape{kind: '*'}
	}
	switch c := p.peek(); c {
	case '{':
		p.i++
		sh := &shape{kind: '{'}
		for p.err == nil && p.peek() != '}' {
			name := p.word()
			f := field{name: name}
			if p.peek() == '!' {
				p.i++
				f.required = true
			}
			p.expect(':')
			f.shape = p.shape()
			if name == "" {
				p.fail("empty member name")
			}
			sh.fields = append(sh.fields, f)
			if p.peek() == ',' {
				p.i++
			}
		}
		p.expect('}')
		return sh
	case '[':
		p.i++
		sh := &shape{kind: '[', elem: p.shape()}
		p.expect(']')
		if p.i < len(p.s) && p.s[p.i] == '+' {
			p.i++
			sh.nonEmpt = true
		}
		return sh
	case '*':
		p.i++
		return &shape{kind: '*'}
	case 'e':
		p.i++
		p.expect('(')
		sh := &shape{kind: 'e'}
		for p.err == nil {
			sh.enum = append(sh.enum, p.word())
			if p.peek() == '|' {
				p.i++
				continue
			}
			break
		}
		p.expect(')')
		return sh
	case 's', 't', 'i', 'n', 'b':
		p.i++
		sh := &shape{kind: c}
		j := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if j < p.i {
			sh.max, _ = strconv.Atoi(p.s[j:p.i])
		}
		return sh
	}
	p.fail("unknown type")
	return &shape{kind: '*'}
}
