package mqtt

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// chunkConn hands out a byte stream in reads of at most chunk bytes.
type chunkConn struct {
	net.Conn
	r     *bytes.Reader
	chunk int
	w     bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.chunk)]) }

func (c *chunkConn) Write(p []byte) (int, error) { return c.w.Write(p) }

type decoded struct {
	topic   string
	payload []byte
	qos     byte
	id      uint16
}

// The connection decodes the PUBLISH packets of QoS 0 and 1 itself and
// passes every other packet to paho unchanged, in order, however the
// socket reads cut the stream: properties are skipped, payloads larger
// than the read buffer come whole, and payloads stay intact while later
// messages are read (they share blocks).
func TestBufConnDecodesPublishes(t *testing.T) {
	var stream bytes.Buffer
	var want []decoded
	var wantOther []string
	write := func(cp *packets.ControlPacket) {
		if _, err := cp.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
	}
	one := byte(1)
	for i, size := range []int{0, 1, 50, 127, 128, 1500, 16384, 70000} {
		p := packets.NewControlPacket(packets.PUBLISH)
		pub := p.Content.(*packets.Publish)
		pub.Topic = fmt.Sprintf("sensor/d%d/data", i%3)
		pub.QoS = byte(i % 2)
		if pub.QoS > 0 {
			pub.PacketID = uint16(100 + i)
		}
		pub.Payload = bytes.Repeat([]byte{byte('a' + i)}, size)
		if i%3 == 1 {
			pub.Properties = &packets.Properties{PayloadFormat: &one, ContentType: "application/json",
				User: []packets.User{{Key: "k", Value: "v"}}}
		}
		write(p)
		want = append(want, decoded{pub.Topic, pub.Payload, pub.QoS, pub.PacketID})

		// QoS 2 stays with paho, and so does everything else.
		q2 := packets.NewControlPacket(packets.PUBLISH)
		q2p := q2.Content.(*packets.Publish)
		q2p.Topic, q2p.QoS, q2p.PacketID, q2p.Payload = "sensor/q2/data", 2, uint16(500+i), []byte("two")
		write(q2)
		wantOther = append(wantOther, fmt.Sprintf("PUBLISH qos2 %d two", 500+i))
		write(packets.NewControlPacket(packets.PINGRESP))
		wantOther = append(wantOther, "PINGRESP")
		sa := packets.NewControlPacket(packets.SUBACK)
		sa.Content.(*packets.Suback).PacketID = uint16(900 + i)
		sa.Content.(*packets.Suback).Reasons = []byte{1}
		write(sa)
		wantOther = append(wantOther, fmt.Sprintf("SUBACK %d", 900+i))
	}
	all := stream.Bytes()
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(all)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			bc := newBufConn(&chunkConn{r: bytes.NewReader(all), chunk: chunk}, 0, nil)
			var got []decoded
			bc.onPub = func(topic string, payload []byte, qos byte, id uint16) {
				got = append(got, decoded{topic, payload, qos, id})
			}
			var other []string
			for {
				cp, err := packets.ReadPacket(bc)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				switch c := cp.Content.(type) {
				case *packets.Publish:
					other = append(other, fmt.Sprintf("PUBLISH qos%d %d %s", c.QoS, c.PacketID, c.Payload))
				case *packets.Pingresp:
					other = append(other, "PINGRESP")
				case *packets.Suback:
					other = append(other, fmt.Sprintf("SUBACK %d", c.PacketID))
				default:
					t.Fatalf("unexpected %v", cp)
				}
			}
			if !slices.Equal(other, wantOther) {
				t.Errorf("paho read %q, want %q", other, wantOther)
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d messages, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.topic != w.topic || g.qos != w.qos || g.id != w.id || !bytes.Equal(g.payload, w.payload) {
					t.Errorf("message %d: %q qos %d id %d %d bytes, want %q qos %d id %d %d bytes",
						i, g.topic, g.qos, g.id, len(g.payload), w.topic, w.qos, w.id, len(w.payload))
				}
			}
		})
	}
}

// A PUBLISH that ends before its topic, packet identifier or properties
// do is an error for the reader, as paho's own decoding would make it.
func TestBufConnMalformedPublish(t *testing.T) {
	for _, pkt := range [][]byte{
		{0x30, 1, 0},                      // topic length cut
		{0x30, 3, 0, 5, 'a'},              // topic shorter than its length
		{0x32, 4, 0, 1, 'a', 0},           // packet identifier cut
		{0x32, 5, 0, 1, 'a', 0, 0},        // packet identifier 0
		{0x32, 6, 0, 1, 'a', 0, 1, 9},     // properties longer than the packet
		{0x30, 0xff, 0xff, 0xff, 0xff, 1}, // remaining length of five bytes
	} {
		bc := newBufConn(&chunkConn{r: bytes.NewReader(pkt), chunk: 100}, 0, nil)
		bc.onPub = func(topic string, payload []byte, qos byte, id uint16) {
			t.Errorf("% x: handed over %q", pkt, topic)
		}
		if _, err := packets.ReadPacket(bc); err == nil || err == io.EOF {
			t.Errorf("% x: err %v, want a decoding error", pkt, err)
		}
	}
}

// The PUBACKs of decoded messages and paho's acknowledgements of the
// others leave in arrival order once released, a batch's in one write.
func TestOwnAcksInOrderWithPaho(t *testing.T) {
	cc := &countingConn{}
	bc := newBufConn(cc, readLinger, nil)
	st := &recordingState{conn: bc}
	s := &ackSession{SessionManager: st, conn: bc}
	var batch []inbound
	for id := uint16(1); id <= 6; id++ {
		var release func()
		if id%3 == 0 { // through paho (a QoS 2 message)
			release = s.track(id)
			if err := s.Ack(&packets.Publish{PacketID: id, QoS: 2}); err != nil {
				t.Fatal(err)
			}
		} else {
			release = s.trackOwn(id)
		}
		batch = append(batch, inbound{ack: release, acks: s})
	}
	batch[4].ack()
	if cc.writes != 0 {
		t.Fatalf("%d writes before the first message was released", cc.writes)
	}
	ackAll(batch[:4])
	if cc.writes != 1 {
		t.Fatalf("%d socket writes for a batch, want 1", cc.writes)
	}
	ackAll(batch[5:])
	if cc.writes != 2 || len(s.q) != 0 {
		t.Fatalf("%d writes, %d slots left", cc.writes, len(s.q))
	}
	r := bytes.NewReader(cc.buf.Bytes())
	for want := uint16(1); want <= 6; want++ {
		cp, err := packets.ReadPacket(r)
		if err != nil {
			t.Fatal(err)
		}
		if pa, ok := cp.Content.(*packets.Puback); !ok || pa.PacketID != want {
			t.Fatalf("packet %v, want PUBACK %d", cp, want)
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left over", r.Len())
	}
}

// publishStream is n QoS 1 PUBLISH packets of the everyday workload's
// size (a 3-datapoint JSON message).
func publishStream(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		p := packets.NewControlPacket(packets.PUBLISH)
		pub := p.Content.(*packets.Publish)
		pub.Topic, pub.QoS, pub.PacketID = fmt.Sprintf("sensor/dev%03d/data", i%100), 1, uint16(i+1)
		pub.Payload = []byte(fmt.Sprintf(`{"seq":%d,"t":1765000000000,"v1":12.345}`, i))
		if _, err := p.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

// BenchmarkDecodePublish reads 1000 PUBLISH packets through the
// connection's own decoding (what the MQTT 5 session does now) and,
// for comparison, through paho.golang's packet reader (what it did).
func BenchmarkDecodePublish(b *testing.B) {
	all := publishStream(b, 1000)
	b.Run("bufConn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bc := newBufConn(&chunkConn{r: bytes.NewReader(all), chunk: 4096}, 0, nil)
			n := 0
			bc.onPub = func(string, []byte, byte, uint16) { n++ }
			if _, err := packets.ReadPacket(bc); err != io.EOF || n != 1000 {
				b.Fatalf("%d messages, err %v", n, err)
			}
		}
	})
	b.Run("paho", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bc := newBufConn(&chunkConn{r: bytes.NewReader(all), chunk: 4096}, 0, nil)
			for range 1000 {
				if _, err := packets.ReadPacket(bc); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
