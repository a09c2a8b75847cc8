package serial

import (
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func drivertestEnv(t *testing.T) connector.Env { return drivertest.Env(t, "serial", "serial") }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// FuzzFrame runs every key type over arbitrary frames: no panics, and
// every value is one of the data model's types.
func FuzzFrame(f *testing.F) {
	for _, s := range []string{"23.5\rSN-0001\n", "T=1,N=2;", "{\"a\":1}", "\xff\xfe", "", "1_0", "true"} {
		f.Add([]byte(s), 2, -1, "T=", ",")
	}
	f.Fuzz(func(t *testing.T, frame []byte, from, to int, fd, ud string) {
		cuts := []cut{{from: &from, to: &to}, {from: &from}, {to: &to}, {fromDelim: fd, untilDelim: ud}}
		for _, c := range cuts {
			b, err := c.apply(frame)
			if err != nil {
				continue
			}
			for typ := range knownTypes {
				v, err := parseValue(typ, b)
				if err != nil {
					continue
				}
				switch v.(type) {
				case int64, float64, bool, string:
				default:
					if _, ok := v.([]byte); ok {
						t.Fatalf("bytes value")
					}
				}
			}
		}
	})
}

// FuzzConfig: any file is a clear error or a connector, never a panic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"devices":[{"name":"a","telemetry":[{"key":"k","type":"int","fromByte":1}]}]}`))
	f.Add([]byte(`{"devices":[{"serverSideRpc":[{"method":"m","withResponse":true,"responseTimeoutSec":-1}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		New(raw, connector.Env{Name: "f"})
	})
}
