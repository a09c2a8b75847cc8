package httpout

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Security is an upstream "security" block of an outgoing call.
type Security struct {
	Type     string `json:"type"` // anonymous (default), basic, cert
	Username string `json:"username"`
	Password string `json:"password"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
	CACert   string `json:"caCert"`
}

// Spec is one "attributeUpdates" or "serverSideRpc" entry, in the
// Request connector's spelling (httpMethod, requestValueExpression) and
// the REST connector's (HTTPMethod, valueExpression).
type Spec struct {
	DeviceNameFilter        string            `json:"deviceNameFilter"`
	AttributeFilter         string            `json:"attributeFilter"`
	MethodFilter            string            `json:"methodFilter"`
	RequestURLExpression    string            `json:"requestUrlExpression"`
	RequestValueExpression  *string           `json:"requestValueExpression"`
	ValueExpression         *string           `json:"valueExpression"`
	ResponseValueExpression string            `json:"responseValueExpression"`
	HTTPMethod              string            `json:"httpMethod"`
	HTTPMethodUpper         string            `json:"HTTPMethod"`
	HTTPHeaders             map[string]string `json:"httpHeaders"`
	Timeout                 *Seconds          `json:"timeout"`
	ResponseTimeout         *Seconds          `json:"responseTimeout"`
	Tries                   *int              `json:"tries"`
	AllowRedirects          *bool             `json:"allowRedirects"`
	SSLVerify               *bool             `json:"SSLVerify"`
	Security                *Security         `json:"security"`
	// The entry's downlink converter class: "extension" in the REST
	// connector, "converter" in the Request connector (Options.Converter
	// says which).
	Extension string `json:"extension"`
	Converter string `json:"converter"`
	// Raw is the entry as written, what a converter class gets.
	Raw json.RawMessage `json:"-"`
}

// Seconds is a duration in seconds written as a JSON number or a numeric
// string ("0.5", 10). A value that is neither, negative or absurdly large
// decodes as Invalid, for the caller to report with its position (errors
// of custom decoders carry none).
type Seconds float64

// Invalid marks a Seconds value that is not a number of seconds.
const Invalid Seconds = -1

// UnmarshalJSON accepts a number or a string holding one.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	*s = ParseSeconds(string(b))
	return nil
}

// ParseSeconds reads a number of seconds, quoted or not; Invalid if it is
// not one.
func ParseSeconds(str string) Seconds {
	str = strings.TrimSpace(str)
	if strings.HasPrefix(str, `"`) {
		var t string
		if err := json.Unmarshal([]byte(str), &t); err != nil {
			return Invalid
		}
		str = strings.TrimSpace(t)
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || f < 0 || f > 1e7 {
		return Invalid
	}
	return Seconds(f)
}

// Valid reports whether a configured value is a number of seconds.
func (s *Seconds) Valid() bool { return s == nil || *s >= 0 }

// Duration converts s.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// FromParams builds a Spec from the key=value pairs of a reserved get/set
// RPC or the object of a connector RPC: url (requestUrlExpression),
// HTTPMethod (httpMethod), value (requestValueExpression,
// valueExpression), responseValueExpression, timeout, responseTimeout,
// tries, httpHeaders (a JSON object).
func FromParams(get func(string) (string, bool)) (Spec, error) {
	var s Spec
	first := func(keys ...string) (string, bool) {
		for _, k := range keys {
			if v, ok := get(k); ok {
				return v, true
			}
		}
		return "", false
	}
	s.RequestURLExpression, _ = first("url", "requestUrlExpression")
	if s.RequestURLExpression == "" {
		return s, fmt.Errorf("url (or requestUrlExpression) is required")
	}
	s.HTTPMethod, _ = first("HTTPMethod", "httpMethod", "method")
	if v, ok := first("value", "requestValueExpression", "valueExpression"); ok {
		s.RequestValueExpression = &v
	}
	s.ResponseValueExpression, _ = first("responseValueExpression")
	for key, dst := range map[string]**Seconds{"timeout": &s.Timeout, "responseTimeout": &s.ResponseTimeout} {
		if v, ok := get(key); ok {
			sec := ParseSeconds(v)
			if sec == Invalid {
				return s, fmt.Errorf("%s: want a number of seconds, got %q", key, v)
			}
			*dst = &sec
		}
	}
	if v, ok := get("tries"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 10 {
			return s, fmt.Errorf("tries: want 1 to 10, got %q", v)
		}
		s.Tries = &n
	}
	if v, ok := get("httpHeaders"); ok {
		if err := json.Unmarshal([]byte(v), &s.HTTPHeaders); err != nil {
			return s, fmt.Errorf("httpHeaders: want a JSON object: %v", err)
		}
	}
	return s, nil
}
