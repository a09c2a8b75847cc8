package mqtt

import (
	"bytes"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// Whatever the broker sends, the connection's own PUBLISH decoding
// returns an error or packets, never panics or loops, and hands over only
// topics and payloads made of the bytes that came (a remaining length
// claiming more than arrived allocates nothing up front).
func FuzzBufConnStream(f *testing.F) {
	var valid bytes.Buffer
	for i, qos := range []byte{0, 1, 1} {
		p := packets.NewControlPacket(packets.PUBLISH)
		pub := p.Content.(*packets.Publish)
		pub.Topic, pub.QoS, pub.Payload = "sensor/d/data", qos, bytes.Repeat([]byte{'x'}, 10*i)
		if qos > 0 {
			pub.PacketID = uint16(7 + i)
		}
		if _, err := p.WriteTo(&valid); err != nil {
			f.Fatal(err)
		}
	}
	valid.Write([]byte{0xd0, 0})                          // PINGRESP
	f.Add(valid.Bytes(), uint8(3))                        // three publishes and a reply
	f.Add([]byte{0x32, 0xff, 0xff, 0xff, 0x7f}, uint8(1)) // 256 MiB claimed, nothing sent
	f.Add([]byte{0x30, 0x05, 0x00, 0x01, 'a', 0x80, 0x80}, uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		var handed int
		bc := newBufConn(&chunkConn{r: bytes.NewReader(stream), chunk: int(chunk)%64 + 1}, 0, nil)
		bc.onPub = func(topic string, payload []byte, qos byte, id uint16) {
			if qos > 1 || (qos == 1 && id == 0) {
				t.Fatalf("handed over qos %d id %d", qos, id)
			}
			handed += len(topic) + len(payload)
		}
		for i := 0; i <= len(stream); i++ {
			if _, err := packets.ReadPacket(bc); err != nil {
				break
			}
		}
		if handed > len(stream) {
			t.Fatalf("handed over %d bytes of a %d-byte stream", handed, len(stream))
		}
	})
}
