package mqtt

import (
	"bytes"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// The read counter finds every PUBLISH packet in the byte stream however
// the reads cut it, and counts a packet only once it is read completely.
func TestFramesCountPublishes(t *testing.T) {
	var stream bytes.Buffer
	want, lastEnd := 0, 0
	for i, size := range []int{0, 1, 100, 127, 128, 16383, 16384, 70000} {
		p := packets.NewControlPacket(packets.PUBLISH)
		pub := p.Content.(*packets.Publish)
		pub.Topic, pub.QoS, pub.PacketID, pub.Payload = "sensor/a/data", 1, uint16(i+1), bytes.Repeat([]byte{'x'}, size)
		if _, err := p.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
		want++
		lastEnd = stream.Len()
		if _, err := packets.NewControlPacket(packets.PINGRESP).WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
		pa := packets.NewControlPacket(packets.PUBACK)
		pa.Content.(*packets.Puback).PacketID = uint16(i + 1)
		if _, err := pa.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
	}
	all := stream.Bytes()
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(all)} {
		rs := &readStats{}
		f := frames{rs: rs}
		for p := all; len(p) > 0; {
			n := min(chunk, len(p))
			f.feed(p[:n], true)
			p = p[n:]
		}
		if got := rs.pubs.Load(); got != uint64(want) {
			t.Errorf("reads of %d bytes: %d PUBLISH packets counted, want %d", chunk, got, want)
		}
	}
	// The last PUBLISH one byte short: not counted yet.
	rs := &readStats{}
	f := frames{rs: rs}
	f.feed(all[:lastEnd-1], true)
	if got := rs.pubs.Load(); got != uint64(want-1) {
		t.Errorf("counted %d, want %d", got, want-1)
	}
}
