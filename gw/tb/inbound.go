package tb

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// inMsg is one queued inbound message.
type inMsg struct {
	topic   string
	payload []byte
}

// pendingMap correlates requests with their responses by request id.
type pendingMap struct {
	mu sync.Mutex
	m  map[int64]chan []byte
}

func (p *pendingMap) add(id int64) chan []byte {
	ch := make(chan []byte, 1)
	p.mu.Lock()
	p.m[id] = ch
	p.mu.Unlock()
	return ch
}

func (p *pendingMap) remove(id int64) {
	p.mu.Lock()
	delete(p.m, id)
	p.mu.Unlock()
}

// deliver hands payload to the waiter of id; false when nobody waits.
func (p *pendingMap) deliver(id int64, payload []byte) bool {
	p.mu.Lock()
	ch, ok := p.m[id]
	delete(p.m, id)
	p.mu.Unlock()
	if ok {
		ch <- payload // buffered 1, one delivery per id
	}
	return ok
}

// route runs on paho's router goroutine for every inbound message. It must
// not block: PUBACKs are processed behind it.
func (c *Client) route(_ mqtt.Client, m mqtt.Message) {
	topic, payload := m.Topic(), m.Payload()
	if c.echo.echo(topic, payload, c.now()) {
		return
	}
	c.received.Add(1)
	if id, ok := responseID(topic, payload); ok && c.pending.deliver(id, payload) {
		return
	}
	if topic == TopicGatewayDisconnect && disconnectReason(payload) == disconnectReasonRateLimited {
		c.log.Warn("ThingsBoard reports the device rate limit exceeded; pausing device traffic")
		c.rl.drain(clsDevMsgs, clsDevTel, clsDevDP)
	}
	select {
	case c.inbound <- inMsg{topic, payload}:
	default:
		n := c.dropped.Add(1)
		if now := c.now().UnixNano(); now-c.dropLogged.Load() >= int64(time.Second) {
			c.dropLogged.Store(now)
			c.log.Error("inbound queue full, message dropped", "topic", topic, "queue", cap(c.inbound),
				"dropped_total", n)
		}
	}
}

// responseID extracts the request id of a response the client may be
// waiting for.
func responseID(topic string, payload []byte) (int64, bool) {
	var tail string
	switch {
	case strings.HasPrefix(topic, TopicRPCResponsePrefix):
		tail = topic[len(TopicRPCResponsePrefix):]
	case strings.HasPrefix(topic, TopicAttributesResponsePrefix):
		tail = topic[len(TopicAttributesResponsePrefix):]
	case topic == TopicGatewayAttributesResponse:
		var r struct {
			ID json.Number `json:"id"`
		}
		if json.Unmarshal(payload, &r) != nil {
			return 0, false
		}
		tail = r.ID.String()
	default:
		return 0, false
	}
	id, err := strconv.ParseInt(tail, 10, 64)
	return id, err == nil
}

func disconnectReason(payload []byte) int {
	var r struct {
		Reason int `json:"reason"`
	}
	_ = json.Unmarshal(payload, &r)
	return r.Reason
}

// dispatch calls Handler.OnMessage for queued messages until ctx ends.
func (c *Client) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.inbound:
			if c.h.OnMessage != nil {
				c.h.OnMessage(m.topic, m.payload)
			}
		}
	}
}
