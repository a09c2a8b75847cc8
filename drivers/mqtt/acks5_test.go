package mqtt

import (
	"bytes"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	pahosession "github.com/eclipse/paho.golang/paho/session"
)

// recordingState stands in for paho's session state: it writes a PUBACK
// for every acknowledgement, as paho's does.
type recordingState struct {
	pahosession.SessionManager
	conn io.Writer
	mu   sync.Mutex
	ids  []uint16
}

func (r *recordingState) Ack(pb *packets.Publish) error {
	r.mu.Lock()
	r.ids = append(r.ids, pb.PacketID)
	r.mu.Unlock()
	_, err := (&packets.Puback{PacketID: pb.PacketID, Properties: &packets.Properties{}}).WriteTo(r.conn)
	return err
}

func (r *recordingState) acked() []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// countingConn counts the writes reaching the socket.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

// Acknowledgements go out only once released, in arrival order, and a
// stored batch's acknowledgements leave in one write.
func TestAcksInOrderAfterRelease(t *testing.T) {
	cc := &countingConn{}
	bc := newBufConn(cc, readLinger, nil)
	st := &recordingState{conn: bc}
	s := &ackSession{SessionManager: st, conn: bc}

	// paho: handler (track), then Ack, message by message.
	var batch []inbound
	for id := uint16(1); id <= 5; id++ {
		release := s.track(id)
		if err := s.Ack(&packets.Publish{PacketID: id, QoS: 1}); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, inbound{ack: release, acks: s})
	}
	if got := st.acked(); len(got) != 0 {
		t.Fatalf("acknowledged before release: %v", got)
	}
	// A later message released first waits for the earlier ones.
	batch[3].ack()
	if got := st.acked(); len(got) != 0 {
		t.Fatalf("acknowledged out of order: %v", got)
	}
	ackAll(batch[:3])
	if got := st.acked(); !slices.Equal(got, []uint16{1, 2, 3, 4}) {
		t.Fatalf("acknowledged %v, want 1..4", got)
	}
	if cc.writes != 1 {
		t.Fatalf("%d socket writes for a batch of acknowledgements, want 1", cc.writes)
	}
	// Released before paho asked: sent when it asks.
	release := s.track(6)
	ackAll([]inbound{batch[4], {ack: release, acks: s}})
	if got := st.acked(); !slices.Equal(got, []uint16{1, 2, 3, 4, 5}) {
		t.Fatalf("acknowledged %v, want 1..5", got)
	}
	if err := s.Ack(&packets.Publish{PacketID: 6, QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if got := st.acked(); !slices.Equal(got, []uint16{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("acknowledged %v, want 1..6", got)
	}
	if len(s.q) != 0 {
		t.Fatalf("%d slots left", len(s.q))
	}
	// Every PUBACK reached the socket, whole.
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
}

// After a small read the next socket read waits for more to arrive,
// but never longer than readLinger; the bytes come through unchanged.
func TestCoalescingReader(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	bc := newBufConn(a, readLinger, nil)
	go func() {
		for i := range 3 {
			_, _ = b.Write([]byte{byte('a' + i)})
		}
	}()
	got := make([]byte, 3)
	if _, err := io.ReadFull(bc, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "abc" {
		t.Fatalf("read %q", got)
	}
	_ = a.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := bc.Read(got); err == nil {
		t.Fatal("read past the deadline")
	}
}
