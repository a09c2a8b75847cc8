package tb

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// echoFilter recognises our own publishes coming back. ThingsBoard never
// does that, but a plain MQTT broker (3.1.1 has no "no local") delivers a
// client's publishes on topics it also subscribes to, e.g. the gateway's
// client attributes on v1/devices/me/attributes would come back as a
// shared-attribute update. The filter remembers a hash of the last
// echoRing publishes on such topics for echoTTL.
type echoFilter struct {
	seed maphash.Seed
	mu   sync.Mutex
	ring [echoRing]echoEntry
	next int
}

const (
	echoRing = 1024
	echoTTL  = 10 * time.Second
)

type echoEntry struct {
	h  uint64
	at int64 // unix ns; 0 = empty
}

// echoTopic reports whether the gateway both publishes on and subscribes
// to topic.
func echoTopic(topic string) bool {
	return topic == TopicAttributes || topic == TopicGatewayAttributes || topic == TopicGatewayRPC ||
		strings.HasPrefix(topic, TopicRPCRequestPrefix) || strings.HasPrefix(topic, TopicRPCResponsePrefix)
}

func (e *echoFilter) hash(topic string, payload []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(e.seed)
	h.WriteString(topic)
	h.WriteByte(0)
	h.Write(payload)
	return h.Sum64()
}

// sent records a publish on an echo topic.
func (e *echoFilter) sent(topic string, payload []byte, now time.Time) {
	if !echoTopic(topic) {
		return
	}
	h := e.hash(topic, payload)
	e.mu.Lock()
	e.ring[e.next] = echoEntry{h: h, at: now.UnixNano()}
	e.next = (e.next + 1) % echoRing
	e.mu.Unlock()
}

// echo reports (once) whether an inbound message is the echo of a recent
// publish of ours.
func (e *echoFilter) echo(topic string, payload []byte, now time.Time) bool {
	if !echoTopic(topic) {
		return false
	}
	h := e.hash(topic, payload)
	oldest := now.Add(-echoTTL).UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.ring {
		if en := &e.ring[i]; en.h == h && en.at > oldest {
			en.at = 0
			return true
		}
	}
	return false
}
