package mqtt

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Every protocol version's session reads through the coalescing reader:
// the messages arrive whole and in order, their acknowledgements keep the
// broker's in-flight window moving (more messages than it holds), and
// the read counter counts every PUBLISH read.
func TestSessionReadsAllVersions(t *testing.T) {
	m := startMosquitto(t)
	forVersions(t, func(t *testing.T, v int) {
		const n = 300
		got := make(chan inbound, n)
		var rs readStats
		id := fmt.Sprintf("reads-%d-%d", v, time.Now().UnixNano())
		o := dialOptions{addr: m.addr(), clientID: id, version: v, keepAlive: 10 * time.Second,
			sessionExpiry: 60, inflight: 100, connectTimeout: 10 * time.Second,
			window: 5 * time.Millisecond, reads: &rs,
			onMessage: func(in inbound) { got <- in }}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := dial(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		topic := fmt.Sprintf("reads/%d/data", v)
		if err := s.subscribe(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
		dev := newDevClient(t, m.addr())
		for i := range n {
			dev.pub(topic, 1, fmt.Sprintf(`{"seq":%d}`, i))
		}
		for i := range n {
			select {
			case in := <-got:
				if want := fmt.Sprintf(`{"seq":%d}`, i); in.topic != topic || string(in.payload) != want || in.qos != 1 || in.ack == nil {
					t.Fatalf("message %d: %s %q qos %d, want %q qos 1 with an acknowledgement", i, in.topic, in.payload, in.qos, want)
				}
				in.ack()
			case <-ctx.Done():
				t.Fatalf("%d of %d messages arrived", i, n)
			}
		}
		if p := rs.pubs.Load(); p != n {
			t.Errorf("%d PUBLISH packets counted, want %d", p, n)
		}
	})
}
