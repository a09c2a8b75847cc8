//go:build kerneltest && kernelpyhost && linux

package can_test

// The Python converter classes on the bus: Debian's python3 and tbgw's
// extension host in the VM (the ./drivers/can line of
// scripts/kernel-tests.txt copies them in and sets the kernelpyhost tag).

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/can/cantest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
)

// TestKernelPythonConverters: frames from the bus go through the example
// classes (extensions/examples/can) in the extension host; the downlink
// class's bytes go out on the bus.
func TestKernelPythonConverters(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	d := cantest.Candump(t, "")
	c, sink := start(t, `{"channel": "vcan0", "devices": [{"name": "Py Car",
	  "converters": {"uplink": "DemoCanUplinkConverter", "downlink": "DemoCanDownlinkConverter"},
	  "timeseries": [{"key": "speed", "nodeId": 256, "value": "1:2:big:int", "command": "0:1:7"}],
	  "attributes": [{"key": "name", "nodeId": 256, "value": "3:-1:string", "command": "0:1:7"}],
	  "attributeUpdates": [{"attributeOnThingsBoard": "limit", "nodeId": 512, "dataLength": 3}],
	  "serverSideRpc": [{"method": "setSpeed", "nodeId": 513, "dataLength": 1}]}]}`)
	cantest.Send(t, "100#0701026162")
	waitValue(t, sink, "Py Car", "speed", false, int64(2580))
	waitValue(t, sink, "Py Car", "name", true, "ab")
	waitValue(t, sink, "Py Car", "lastFrame", true, "0701026162")
	d.Flush(5 * time.Second) // the frame sent above
	if err := c.OnAttributes(context.Background(), "Py Car", map[string]any{"limit": float64(300)}); err != nil {
		t.Fatal(err)
	}
	d.Expect("200#A500012C", 5*time.Second)
	if res, err := rpc(t, c, "Py Car", "setSpeed", `{"value": 9}`); err != nil || res.(map[string]any)["success"] != true {
		t.Fatalf("setSpeed: %v %v", res, err)
	}
	d.Expect("201#A509", 5*time.Second)
	if _, err := rpc(t, c, "Py Car", "set", `"nodeId=515;value=7;dataLength=2;"`); err != nil {
		t.Fatal(err)
	}
	d.Expect("203#A50007", 5*time.Second)
}
