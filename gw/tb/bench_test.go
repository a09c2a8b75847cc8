package tb_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tb"
	"github.com/tbgw/tbgw/gw/tbtest"
)

func benchClient(b *testing.B) *tb.Client {
	br := tbtest.StartBroker(b)
	return benchClientAt(b, br.Host, br.Port)
}

func benchClientAt(b *testing.B, host string, port int) *tb.Client {
	cfg := tb.Config{Host: host, Port: port, QoS: 1, Security: tb.Security{AccessToken: "bench"},
		SessionLimitsTimeout: 50 * time.Millisecond}
	c, err := tb.New(cfg, nil, tb.Handler{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for !c.Connected() {
		if time.Now().After(deadline) {
			b.Fatal("not connected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c
}

var benchPayload = append(append([]byte(`{"dev":[{"ts":1700000000000,"values":{"v":"`),
	bytes.Repeat([]byte("x"), 1024-48)...), `"}}]}`...)

// BenchmarkPublishPipelined publishes ~1 KB QoS 1 messages keeping the
// in-flight window full and waits for every PUBACK (the uplink's pattern).
// The embedded broker's work and allocations are included.
func BenchmarkPublishPipelined(b *testing.B) {
	pipelined(b, benchClient(b))
}

// BenchmarkPublishPipelinedMosquitto is the same against mosquitto: the
// allocations reported are the client's alone.
func BenchmarkPublishPipelinedMosquitto(b *testing.B) {
	m := tbtest.StartMosquitto(b)
	pipelined(b, benchClientAt(b, m.Host, m.Port))
}

func pipelined(b *testing.B, c *tb.Client) {
	ctx := context.Background()
	window := c.Limits().MaxInflight
	ring := make([]tb.Token, window)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		slot := i % window
		if i >= window {
			if err := ring[slot].Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		tok, err := c.Publish(ctx, tb.TopicGatewayTelemetry, benchPayload, 1, 1)
		if err != nil {
			b.Fatal(err)
		}
		ring[slot] = tok
	}
	for i := max(0, b.N-window); i < b.N; i++ {
		if err := ring[i%window].Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPublishSerial publishes and waits for each PUBACK in turn
// (round-trip bound).
func BenchmarkPublishSerial(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		tok, err := c.Publish(ctx, tb.TopicGatewayTelemetry, benchPayload, 1, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := tok.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPublishRateLimited measures the limiter's cost with generous
// limits that never delay.
func BenchmarkPublishRateLimited(b *testing.B) {
	br := tbtest.StartBroker(b)
	cfg := tb.Config{Host: br.Host, Port: br.Port, QoS: 1, Security: tb.Security{AccessToken: "bench"},
		SessionLimitsTimeout: 50 * time.Millisecond, DeviceRateLimits: "100000000:1",
		DeviceDPRateLimits: "100000000:1", DeviceMessagesRateLimits: "100000000:1"}
	c, err := tb.New(cfg, nil, tb.Handler{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	for !c.Connected() {
		time.Sleep(5 * time.Millisecond)
	}
	window := c.Limits().MaxInflight
	ring := make([]tb.Token, window)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		slot := i % window
		if i >= window {
			if err := ring[slot].Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		tok, err := c.Publish(ctx, tb.TopicGatewayTelemetry, benchPayload, 1, -1)
		if err != nil {
			b.Fatal(err)
		}
		ring[slot] = tok
	}
	for i := max(0, b.N-window); i < b.N; i++ {
		if err := ring[i%window].Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkCountDatapoints(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		tb.CountDatapoints(tb.TopicGatewayTelemetry, benchPayload)
	}
}
