package socket

import (
	"bytes"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// FuzzFrames splits arbitrary streams with every framing: messages never
// exceed the limit, and reading ends with an error, never a hang or panic.
func FuzzFrames(f *testing.F) {
	f.Add([]byte("a\r\nbb\r\n"), uint8(0))
	f.Add([]byte("\x00\x03abc\xff\xff"), uint8(2))
	f.Add([]byte("abcdefg"), uint8(1))
	f.Add([]byte{}, uint8(3))
	framings := []*framingConf{
		{Type: "delimiter", Delimiter: "\r\n", MaxLength: 64},
		{Type: "fixed", Length: 3},
		{Type: "length", LengthBytes: 2, MaxLength: 1000},
		{Type: "length", LengthBytes: 4, ByteOrder: "little", MaxLength: 100},
		nil,
	}
	f.Fuzz(func(t *testing.T, stream []byte, which uint8) {
		fr, err := compileFraming(framings[int(which)%len(framings)], 16)
		if err != nil {
			t.Fatal(err)
		}
		rd := newReader(bytes.NewReader(stream), fr, 16)
		total := 0
		for i := 0; ; i++ {
			ready := rd.ready()
			msg, err := rd.next()
			if ready && err != nil && err != errFrameTooLong {
				t.Fatalf("ready, but next failed: %v", err)
			}
			if err != nil {
				break
			}
			if len(msg) > fr.max {
				t.Fatalf("message of %d bytes, limit %d", len(msg), fr.max)
			}
			total += len(msg)
			if i > len(stream)+1 && fr.kind != frameDelimiter {
				t.Fatalf("more messages than bytes")
			}
			if total > len(stream) {
				t.Fatalf("read %d bytes from %d", total, len(stream))
			}
		}
		for _, m := range fr.splitDatagram(stream) {
			total += len(m)
		}
	})
}

// FuzzMessage converts arbitrary messages with upstream's sample device
// in every encoding.
func FuzzMessage(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte("atrsharedName"))
	f.Add([]byte{0xff, 0x00, 0xfe})
	c, err := New(sampleOn(f, false), drivertest.Env(f, "Socket", "socket"))
	if err != nil {
		f.Fatal(err)
	}
	d := c.(*Connector).plan.devices[0]
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, enc := range []string{"utf-8", "hex", "utf-16", "latin-1", "ascii"} {
			dd := *d
			dd.enc = enc
			data, _ := dd.convert(msg, 1)
			if len(data) != 1 || len(data[0].Telemetry) != 2 {
				t.Fatalf("%s: %v", enc, data)
			}
		}
		d.attrRequest(msg)
	})
}
