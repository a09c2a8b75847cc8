package codec

import (
	"encoding/json"
	"strings"
	"testing"
)

type nopDown struct{}

func (nopDown) Convert(req *DownlinkRequest) ([]byte, error) { return []byte(req.Method), nil }

func TestRegistry(t *testing.T) {
	RegisterDownlink("testDown", func(json.RawMessage) (Downlink, error) { return nopDown{}, nil })
	d, err := NewDownlink("testDown", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := d.Convert(&DownlinkRequest{Method: "m"}); string(b) != "m" {
		t.Errorf("got %q", b)
	}
	if _, err := NewDownlink("nope", nil); err == nil || !strings.Contains(err.Error(), "testDown") {
		t.Errorf("unknown: %v", err)
	}
	if _, err := NewUplink("nope", nil); err == nil {
		t.Error("unknown uplink accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate registration did not panic")
		}
	}()
	RegisterDownlink("testDown", func(json.RawMessage) (Downlink, error) { return nopDown{}, nil })
}
