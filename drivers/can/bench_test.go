package can

import (
	"os"
	"testing"

	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"github.com/tbgw/tbgw/drivers/drivertest"
)

// BenchmarkDecode is the uplink path without the socket: frames of
// upstream's can.json (an rpm frame with its command and expression, and
// the milliage value of the same identifier) converted into device data.
func BenchmarkDecode(b *testing.B) {
	raw, err := os.ReadFile("testdata/can.json")
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(raw, drivertest.Env(b, "can", "can"))
	if err != nil {
		b.Fatal(err)
	}
	conv := newConverter(c.(*Connector))
	frames := make([]socketcan.Frame, readBatch)
	for i := range frames {
		frames[i], _ = socketcan.NewFrame(1918, true, false, false, []byte{0, 0, 0xbb, 0xbb, byte(i), 0xa0, 0, 0})
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		out := conv.convert(frames)
		n += len(out)
	}
	b.StopTimer()
	if n != b.N*readBatch {
		b.Fatalf("%d data for %d frames", n, b.N*readBatch)
	}
	b.ReportMetric(float64(b.N*readBatch)/b.Elapsed().Seconds(), "frames/s")
}
