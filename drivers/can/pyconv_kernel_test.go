//go:build kerneltest && linux

package can_test

// The frame path of a device's custom converters on a kernel with
// SocketCAN. The converters here are Go stand-ins for the Python host (a
// registered uplink converter taking "can" calls, a call resolver for
// "can-downlink"), so the VM needs no python3; the Python classes are
// tested on the host at the converter level (pyconv_test.go) with the
// same arguments.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/can/cantest"
)

// kernelUplink sums the frame's bytes into the first item's key, named
// from the call's arguments.
type kernelUplink struct{}

func (kernelUplink) Convert(string, []byte, int64) ([]codec.Data, error) {
	return nil, fmt.Errorf("not a topic converter")
}

func (kernelUplink) ConvertCall(args json.RawMessage, _ int64) ([]codec.Data, error) {
	var a struct {
		Config struct {
			DeviceName string `json:"deviceName"`
			Configs    []struct {
				Key   string `json:"key"`
				Start int    `json:"start"`
			} `json:"configs"`
		} `json:"config"`
		Data string `json:"data"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(a.Data)
	if err != nil || len(a.Config.Configs) == 0 {
		return nil, fmt.Errorf("bad call %s", args)
	}
	sum := int64(0)
	for _, x := range b[a.Config.Configs[0].Start:] {
		sum += int64(x)
	}
	return []codec.Data{{Device: a.Config.DeviceName, Telemetry: []codec.Point{{Key: a.Config.Configs[0].Key, Value: sum}}}}, nil
}

// kernelDownlink answers the entry's nodeId and the value as bytes.
type kernelDownlink struct{ kernelUplink }

func (kernelDownlink) ConvertDownCall(args json.RawMessage) (json.RawMessage, error) {
	var a struct {
		Config map[string]any `json:"config"`
		Data   struct {
			Value int `json:"value"`
		} `json:"data"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, err
	}
	return json.Marshal([]any{0xEE, a.Data.Value, a.Config["nodeId"]})
}

func init() {
	codec.RegisterUplink("KernelCanUplinkConverter", func(json.RawMessage) (codec.Uplink, error) { return kernelUplink{}, nil })
	codec.RegisterCallResolver(func(call, name string, _ json.RawMessage) (codec.CallUplink, bool, error) {
		if call != "can-downlink" || name != "KernelCanDownlinkConverter" {
			return nil, false, nil
		}
		return kernelDownlink{}, true, nil
	})
}

// TestKernelCustomConverters: frames from the bus reach the device's
// uplink converter and its data the sink; the downlink converter's bytes
// go out on the bus with the entry's identifier.
func TestKernelCustomConverters(t *testing.T) {
	d := cantest.Candump(t, "")
	c, sink := start(t, `{"channel": "vcan0", "devices": [{"name": "Custom",
	  "converters": {"uplink": "KernelCanUplinkConverter", "downlink": "KernelCanDownlinkConverter"},
	  "timeseries": [{"key": "sum", "nodeId": 32, "value": "1:-1:raw"}],
	  "attributeUpdates": [{"attributeOnThingsBoard": "level", "nodeId": 33}],
	  "serverSideRpc": [{"method": "poke", "nodeId": 34}]}]}`)
	cantest.Send(t, "020#FF010203")
	waitValue(t, sink, "Custom", "sum", false, int64(6))
	d.Flush(5 * time.Second) // the frame sent above
	if err := c.OnAttributes(context.Background(), "Custom", map[string]any{"level": float64(7)}); err != nil {
		t.Fatal(err)
	}
	d.Expect("021#EE0721", 5*time.Second)
	if res, err := rpc(t, c, "Custom", "poke", `{"value": 9}`); err != nil || res.(map[string]any)["success"] != true {
		t.Fatalf("poke: %v %v", res, err)
	}
	d.Expect("022#EE0922", 5*time.Second)
}
