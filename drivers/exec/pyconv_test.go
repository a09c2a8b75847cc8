package exec

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec"
)

// A custom converter block of a built-in connector naming a Python class
// runs the class in the shared converter host.
func TestPythonConverterForBuiltInConnectors(t *testing.T) {
	py := python3(t)
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	t.Cleanup(func() {
		h := sharedHost(filepath.Join(ext, "tbgw_host.py"))
		h.mu.Lock()
		h.stop()
		h.mu.Unlock()
	})
	u, err := codec.NewUplink("DemoMqttUplinkConverter", json.RawMessage(`{"scale":2}`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.Convert("sensors/dev1", []byte(`{"values":{"t":21,"h":40.5},"ts":1000,"fw":"1.0"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(data)
	want := `[{"Device":"dev1","Type":"mqtt-demo","Attributes":[{"Key":"fw","Value":"1.0","TS":0,"Report":null}],` +
		`"Telemetry":[{"Key":"h","Value":81,"TS":1000,"Report":null},{"Key":"t","Value":42,"TS":1000,"Report":null}]}]`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	data, err = u.Convert("sensors/dev2", []byte{0x01, 0xff}, 0)
	if err != nil || len(data) != 1 || data[0].Telemetry[0].Value != "01ff" {
		t.Fatalf("bytes payload: %+v, %v", data, err)
	}
	// A converter error is an error of that message only.
	if _, err := u.Convert("sensors/dev3", []byte(`{"values":{"t":null}}`), 0); err == nil || !strings.Contains(err.Error(), "TypeError") {
		t.Fatalf("failing convert: %v", err)
	}
	if _, err := u.Convert("sensors/dev4", []byte(`{"values":{"t":1}}`), 0); err != nil {
		t.Fatalf("after a failure: %v", err)
	}
	nope, err := codec.NewUplink("NoSuchConverter", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nope.Convert("x", []byte("{}"), 0); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown class: %v", err)
	}
}
