package ocpp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  int
		id   string
		act  string
		err  string // substring; "" = ok
		eid  string
		kind Kind
	}{
		{in: `[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]`, typ: 2, id: "19223201", act: "BootNotification"},
		{in: `[3,"19223201",{"currentTime":"2013-02-01T20:53:32.486Z","interval":300,"status":"Accepted"}]`, typ: 3, id: "19223201"},
		{in: `[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]`, typ: 4, id: "162376037"},
		{in: `[2, "a" , "Heartbeat" , { } ]`, typ: 2, id: "a", act: "Heartbeat"},
		{in: `{"x":1}`, err: "not a JSON array", eid: "-1", kind: KindFramework},
		{in: `[2,"1","Heartbeat"`, err: "not valid JSON", eid: "-1", kind: KindFramework},
		{in: `[2,1,"Heartbeat",{}]`, err: "id is not a string", eid: "-1", kind: KindFramework},
		{in: `[2,"","Heartbeat",{}]`, err: "1 to 36", eid: "-1", kind: KindFramework},
		{in: `[2,"` + strings.Repeat("x", 37) + `","Heartbeat",{}]`, err: "1 to 36", eid: "-1", kind: KindFramework},
		{in: `[2,"7","Heartbeat"]`, err: "want 4", eid: "7", kind: KindFormat},
		{in: `[2,"7"]`, err: "want at least 3", eid: "-1"},
		{in: `[2,"7","Heartbeat",[]]`, err: "must be a JSON object", eid: "7", kind: KindFormat},
		{in: `[2,"7",5,{}]`, err: "action must be", eid: "7", kind: KindFormat},
		{in: `[9,"7",{}]`, err: "unknown message type 9", eid: "7", kind: KindFramework},
		{in: `["2","7","Heartbeat",{}]`, err: "not an integer", eid: "-1"},
		{in: `[3,"7",{},1]`, err: "want 3", eid: "7"},
		{in: `[4,"7","X","y"]`, err: "want 5", eid: "7"},
		{in: "[2,\"7\",\"\xff\",{}]", err: "UTF-8", eid: "-1"},
	} {
		m, err := Parse([]byte(tc.in))
		if tc.err == "" {
			if err != nil || m.Type != tc.typ || m.ID != tc.id || m.Action != tc.act {
				t.Errorf("Parse(%s) = %+v, %v", tc.in, m, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Msg, tc.err) || e.ID != tc.eid || (tc.kind != 0 && e.Kind != tc.kind) {
			t.Errorf("Parse(%.60s) error = %#v, want %q id %q kind %d", tc.in, err, tc.err, tc.eid, tc.kind)
		}
	}
}

func TestAppend(t *testing.T) {
	if got := string(AppendCall(nil, "1", "DataTransfer", []byte(`{"vendorId":"1"}`))); got != `[2,"1","DataTransfer",{"vendorId":"1"}]` {
		t.Error(got)
	}
	if got := string(AppendResult(nil, "a\"b", nil)); got != `[3,"a\"b",{}]` {
		t.Error(got)
	}
	if got := string(AppendError(nil, "-1", "RpcFrameworkError", "bad <json>")); got != `[4,"-1","RpcFrameworkError","bad \u003cjson\u003e",{}]` {
		t.Error(got)
	}
	for _, b := range [][]byte{AppendCall(nil, "x", "Reset", nil), AppendResult(nil, "x", []byte(`{"a":1}`)), AppendError(nil, "x", "c", "d")} {
		if _, err := Parse(b); err != nil {
			t.Errorf("round trip %s: %v", b, err)
		}
	}
}

func TestCodes(t *testing.T) {
	for _, tc := range []struct {
		k        Kind
		v16, v21 string
	}{
		{KindFormat, "FormationViolation", "FormatViolation"},
		{KindFramework, "FormationViolation", "RpcFrameworkError"},
		{KindOccurrence, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"},
		{KindType, "TypeConstraintViolation", "TypeConstraintViolation"},
		{KindNotImplemented, "NotImplemented", "NotImplemented"},
		{KindInternal, "InternalError", "InternalError"},
	} {
		if tc.k.Code(V16) != tc.v16 || tc.k.Code(V201) != tc.v21 {
			t.Errorf("kind %d: %s %s", tc.k, tc.k.Code(V16), tc.k.Code(V201))
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		v, action, payload string
		kind               Kind
		ok                 bool
	}{
		{V16, "BootNotification", `{"chargePointVendor":"V","chargePointModel":"M","vendorExtension":1}`, 0, true},
		{V16, "BootNotification", `{"chargePointVendor":"V"}`, KindOccurrence, false},
		{V16, "BootNotification", `{"chargePointVendor":"V","chargePointModel":5}`, KindType, false},
		{V16, "BootNotification", `{"chargePointVendor":"` + strings.Repeat("v", 21) + `","chargePointModel":"M"}`, KindProperty, false},
		{V16, "MeterValues", `{"connectorId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[{"value":"12.5"}]}]}`, 0, true},
		{V16, "MeterValues", `{"connectorId":1.5,"meterValue":[]}`, KindType, false},
		{V16, "MeterValues", `{"connectorId":1,"meterValue":[{"timestamp":"yesterday","sampledValue":[]}]}`, KindProperty, false},
		{V16, "MeterValues", `{"connectorId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[{"value":12.5}]}]}`, KindType, false},
		{V16, "StatusNotification", `{"connectorId":0,"errorCode":"NoError","status":"Charging"}`, 0, true},
		{V16, "StatusNotification", `{"connectorId":0,"errorCode":"NoError","status":"Sleeping"}`, KindProperty, false},
		{V16, "StartTransaction", `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2024-01-02T03:04:05.123+01:00"}`, 0, true},
		{V16, "Heartbeat", `{}`, 0, true},
		{V16, "NoSuchAction", `{"x":1}`, 0, true},
		{V201, "BootNotification", `{"chargingStation":{"model":"M","vendorName":"V"},"reason":"PowerUp"}`, 0, true},
		{V201, "BootNotification", `{"chargingStation":{"model":"M"},"reason":"PowerUp"}`, KindOccurrence, false},
		{V201, "TransactionEvent", `{"eventType":"Started","timestamp":"2024-01-02T03:04:05Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"}}`, 0, true},
		{V201, "TransactionEvent", `{"eventType":"Begun","timestamp":"2024-01-02T03:04:05Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"}}`, KindProperty, false},
		{V201, "MeterValues", `{"evseId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[{"value":1.5}]}]}`, 0, true},
		{V201, "MeterValues", `{"evseId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[]}]}`, KindOccurrence, false},
		{V201, "DataTransfer", `{"vendorId":"x","data":{"any":[1]}}`, 0, true},
	} {
		err := Validate(tc.v, tc.action, []byte(tc.payload))
		if tc.ok {
			if err != nil {
				t.Errorf("%s %s %s: %v", tc.v, tc.action, tc.payload, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != tc.kind {
			t.Errorf("%s %s %s: %v, want kind %d", tc.v, tc.action, tc.payload, err, tc.kind)
		}
	}
	if !Known(V16, "MeterValues") || Known(V16, "TransactionEvent") || !Known(V201, "TransactionEvent") {
		t.Error("Known")
	}
}

func TestView(t *testing.T) {
	in := `{"connectorId":1,"meterValue":[{"timestamp":"t","sampledValue":[{"value":"12.5","measurand":"SoC"}]}],"data":"{\"temp\":21.5}"}`
	out, err := View([]byte(in), true, map[string]any{"chargePointId": "CP1", "connectorId": 99})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m["connector_id"].(float64) != 1 || m["connectorId"].(float64) != 1 || m["chargePointId"] != "CP1" {
		t.Errorf("view %s", out)
	}
	sv := m["meter_value"].([]any)[0].(map[string]any)["sampled_value"].([]any)[0].(map[string]any)
	if sv["value"] != "12.5" {
		t.Errorf("view %s", out)
	}
	if m["data"].(map[string]any)["temp"].(float64) != 21.5 {
		t.Errorf("data not decoded: %s", out)
	}
	for in, want := range map[string]string{"meterValue": "meter_value", "connectorId": "connector_id", "chargePointVendor": "charge_point_vendor", "SoC": "so_c", "a": "a", "evse2Id": "evse2_id"} {
		if got := Snake(in); got != want {
			t.Errorf("Snake(%s) = %s", in, got)
		}
	}
	if _, err := View([]byte(`{"a":`), false, nil); err == nil {
		t.Error("bad json accepted")
	}
}

// Every request schema parses (they are parsed on first use, so a mistake
// would otherwise show only when that version's connector first runs).
func TestSchemasParse(t *testing.T) {
	c := compiled()
	for v, m := range requests {
		for action := range m {
			if c[v][action] == nil {
				t.Errorf("%s %s: no shape", v, action)
			}
		}
	}
}
