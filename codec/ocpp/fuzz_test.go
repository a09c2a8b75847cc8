package ocpp

import (
	"errors"
	"testing"
)

// FuzzParse: Parse never panics, errors carry a readable id, and an
// accepted CALL re-encodes to a frame that parses to the same message.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`,
		`[3,"1",{"status":"Accepted"}]`, `[4,"1","NotImplemented","",{}]`, `[2,"1"`, `[]`, `{}`,
		`[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[{"value":"1"}]}]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.ID == "" {
				t.Fatalf("error without id: %#v", err)
			}
			return
		}
		switch m.Type {
		case Call:
			for _, v := range []string{V16, V201} {
				_ = Validate(v, m.Action, m.Payload)
			}
			_, _ = View(m.Payload, true, nil)
			m2, err := Parse(AppendCall(nil, m.ID, m.Action, m.Payload))
			if err != nil || m2.ID != m.ID || m2.Action != m.Action {
				t.Fatalf("re-encode: %+v %v", m2, err)
			}
		case CallResult:
			if _, err := Parse(AppendResult(nil, m.ID, m.Payload)); err != nil {
				t.Fatal(err)
			}
		case CallError:
			if _, err := Parse(AppendError(nil, m.ID, m.ErrCode, m.ErrDesc)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzValidate: no payload makes Validate or View panic.
func FuzzValidate(f *testing.F) {
	f.Add("MeterValues", []byte(`{"connectorId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[{"value":"1"}]}]}`))
	f.Add("TransactionEvent", []byte(`{"eventType":"Started","transactionInfo":{"transactionId":1}}`))
	f.Add("DataTransfer", []byte(`{"vendorId":"v","data":"{\"a\":[1,2]}"}`))
	f.Fuzz(func(t *testing.T, action string, payload []byte) {
		for _, v := range []string{V16, V201} {
			_ = Validate(v, action, payload)
		}
		_, _ = View(payload, true, map[string]any{"x": 1})
	})
}
