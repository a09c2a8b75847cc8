package mqtt

import (
	"sync"

	"github.com/eclipse/paho.golang/packets"
	pahosession "github.com/eclipse/paho.golang/paho/session"
)

// ackSession holds back paho.golang's acknowledgements of QoS 1 and 2
// messages until the connector released them (their data is stored), and
// then sends them at once, in arrival order as MQTT requires.
//
// paho.golang's own manual acknowledgement flushes on a ticker (every few
// milliseconds, connected or idle: hundreds of wake-ups a second for
// nothing); here paho acknowledges automatically after the message
// handler, and this wrapper of its session state delays that
// acknowledgement until the connector's release, with no timer at all.
type ackSession struct {
	pahosession.SessionManager
	conn *bufConn // corked while a batch is acknowledged
	mu   sync.Mutex
	q    []*ackSlot // QoS > 0 messages in arrival order, oldest first
}

// ackSlot is one received message awaiting its acknowledgement.
type ackSlot struct {
	id       uint16
	pb       *packets.Publish // paho's acknowledgement request, nil until made
	own      bool             // decoded by bufConn (QoS 1): its PUBACK is written here
	released bool             // the connector is done with the message
}

// track registers a message as the handler receives it and returns the
// function that releases it.
func (s *ackSession) track(id uint16) func() { return s.add(&ackSlot{id: id}) }

// trackOwn registers a QoS 1 message decoded by the connection (paho
// never sees it) and returns the function that releases it; its PUBACK
// is written here once it and every earlier message are released.
func (s *ackSession) trackOwn(id uint16) func() { return s.add(&ackSlot{id: id, own: true}) }

func (s *ackSession) add(sl *ackSlot) func() {
	s.mu.Lock()
	s.q = append(s.q, sl)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		sl.released = true
		s.flushLocked()
	}
}

// Ack is paho's request to acknowledge pb, made right after the handler
// saw it: it is sent once the connector released the message and every
// earlier one.
func (s *ackSession) Ack(pb *packets.Publish) error {
	if pb.QoS == 0 {
		return s.SessionManager.Ack(pb)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.q) - 1; i >= 0; i-- {
		if sl := s.q[i]; sl.id == pb.PacketID && sl.pb == nil && !sl.own {
			sl.pb = pb
			s.flushLocked()
			return nil
		}
	}
	return s.SessionManager.Ack(pb) // not tracked: nothing to hold it for
}

// flushLocked sends the acknowledgements of the released prefix. Holding
// mu while writing keeps them in order.
func (s *ackSession) flushLocked() {
	n := 0
	for n < len(s.q) && s.q[n].released && (s.q[n].own || s.q[n].pb != nil) {
		if sl := s.q[n]; sl.own {
			s.conn.writePuback(sl.id)
		} else {
			_ = s.SessionManager.Ack(sl.pb) // only fails with the connection, which paho notices
		}
		n++
	}
	if n == 0 {
		return
	}
	clear(s.q[:n])
	s.q = s.q[n:]
	if len(s.q) == 0 {
		s.q = s.q[:0:0] // let the drained backing array go
	}
}

// ackAll releases the messages of a stored batch in order; the
// acknowledgements of one MQTT 5 session leave in one write.
func ackAll(batch []inbound) {
	var corked *ackSession
	for i := range batch {
		m := &batch[i]
		if m.ack == nil {
			continue
		}
		if m.acks != corked {
			if corked != nil {
				corked.conn.uncork()
			}
			if corked = m.acks; corked != nil {
				corked.conn.cork()
			}
		}
		m.ack()
	}
	if corked != nil {
		corked.conn.uncork()
	}
}
