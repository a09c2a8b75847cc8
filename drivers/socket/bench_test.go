package socket

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/wal"
)

// walSink appends every Send to a write-ahead log (fsync before Send
// returns), as the gateway's file storage does.
type walSink struct {
	drivertest.Sink
	log  *wal.Log
	recs atomic.Int64
}

func (s *walSink) Send(_ context.Context, items []connector.Data) error {
	recs := make([][]byte, len(items))
	for i := range items {
		recs[i] = tbjson.AppendRecord(nil, &items[i])
	}
	if err := s.log.Append(recs); err != nil {
		return err
	}
	s.recs.Add(int64(len(recs)))
	return nil
}

// BenchmarkIngest sends newline-framed messages over 100 TCP connections
// at once; each message is matched to its device, cut into two telemetry
// and two attribute values and appended to a write-ahead log (fsync before
// Send returns; one connection's messages are sent in order). Reported:
// messages/s end to end, CPU per message (clients included, they only
// write pre-built buffers) and peak RSS.
func BenchmarkIngest(b *testing.B) {
	const conns = 100
	log, err := wal.Open(b.TempDir(), wal.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	sink := &walSink{Sink: *drivertest.NewSink(), log: log}
	cfg := `{"socket":{"type":"TCP","address":"127.0.0.1","port":0,"bufferSize":4096,"maxConnections":200,
	  "framing":{"type":"delimiter","delimiter":"\n"}},
	  "devices":[{"address":"127.0.0.1:*","deviceName":"Meter","telemetry":[{"key":"v","byteFrom":0,"byteTo":6},{"key":"raw","byteFrom":0,"byteTo":-1}],
	    "attributes":[{"key":"id","byteFrom":7,"byteTo":10},{"key":"tail","byteFrom":-3,"byteTo":-1}]}]}`
	c, err := New([]byte(cfg), drivertest.Env(b, "Socket", "socket"))
	if err != nil {
		b.Fatal(err)
	}
	sc := c.(*Connector)
	drivertest.Run(b, sc, sink)
	drivertest.Eventually(b, 5*time.Second, "listening", func() bool { return sc.ListenAddr() != "" })
	per := max(b.N/conns, 1)
	total := int64(per * conns)
	bufs := make([][]byte, conns)
	for i := range bufs {
		var buf bytes.Buffer
		for j := range per {
			fmt.Fprintf(&buf, "%06d %03d payload\n", j, i)
		}
		bufs[i] = buf.Bytes()
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", sc.ListenAddr())
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			if _, err := conn.Write(bufs[i]); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	drivertest.Eventually(b, 60*time.Second, "every message stored", func() bool { return sink.recs.Load() >= total })
	el := time.Since(start)
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(total)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(total)/1000, "cpu-µs/msg")
	b.ReportMetric(float64(ru1.Maxrss)/1024, "maxrss-MB")
	if sink.recs.Load() != total {
		b.Fatalf("%d records stored, %d sent", sink.recs.Load(), total)
	}
}
