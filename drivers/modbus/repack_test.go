package modbus

import (
	"context"
	"reflect"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// A device with upstream's repack writes registers as pymodbus'
// BinaryPayloadBuilder(repack=True) builds them: with little-endian byte
// order numbers reach the device without the byte swap.
func TestRepackWrites(t *testing.T) {
	port := drivertest.FreePort(t)
	p := startPymodbus(t, "tcp", "127.0.0.1", port, cfgMap{"units": []int{1}})
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{cfgMap{
		"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket", "unitId": 1, "deviceName": "R",
		"pollPeriod": 60000, "byteOrder": "LITTLE", "wordOrder": "BIG", "repack": true, "timeout": 3,
		"attributeUpdates": []any{
			cfgMap{"tag": "u16", "type": "16uint", "functionCode": 6, "objectsCount": 1, "address": 0},
			cfgMap{"tag": "i32", "type": "32int", "functionCode": 16, "objectsCount": 2, "address": 1},
			cfgMap{"tag": "s", "type": "string", "functionCode": 16, "objectsCount": 2, "address": 3},
		},
	}}}})
	drivertest.Run(t, c, drivertest.NewSink())
	if err := c.OnAttributes(context.Background(), "R", map[string]any{"u16": 4660.0, "i32": 305419896.0, "s": "abcd"}); err != nil {
		t.Fatal(err)
	}
	got := p.cmd(cfgMap{"cmd": "get", "table": "hr", "address": 0, "count": 5})["values"]
	want := []any{4660.0, 4660.0, 22136.0, float64(0x6261), float64(0x6463)} // 0x1234, 0x1234 0x5678, "badc"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("registers %v, want %v (pymodbus' repacked layout)", got, want)
	}
}
