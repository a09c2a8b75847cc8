package rig

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// The load generator speaks just enough MQTT 3.1.1 to publish at QoS 1:
// CONNECT/CONNACK, PUBLISH/PUBACK, PINGREQ/PINGRESP and DISCONNECT. It
// encodes into reusable buffers, so generating load costs little CPU next
// to the gateway under test.

const (
	pktConnect    = 0x10
	pktConnack    = 0x20
	pktPublish    = 0x30
	pktPuback     = 0x40
	pktPingreq    = 0xC0
	pktPingresp   = 0xD0
	pktDisconnect = 0xE0
)

func appendRemLen(dst []byte, n int) []byte {
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		dst = append(dst, b)
		if n == 0 {
			return dst
		}
	}
}

func appendStr(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

// appendConnect encodes a clean-session CONNECT.
func appendConnect(dst []byte, clientID string, keepAlive uint16) []byte {
	body := 10 + 2 + len(clientID)
	dst = append(dst, pktConnect)
	dst = appendRemLen(dst, body)
	dst = appendStr(dst, "MQTT")
	dst = append(dst, 4, 0x02, byte(keepAlive>>8), byte(keepAlive))
	return appendStr(dst, clientID)
}

// appendPublish encodes a QoS 1 PUBLISH.
func appendPublish(dst []byte, topic string, id uint16, dup bool, payload []byte) []byte {
	h := byte(pktPublish | 1<<1)
	if dup {
		h |= 0x08
	}
	dst = append(dst, h)
	dst = appendRemLen(dst, 2+len(topic)+2+len(payload))
	dst = appendStr(dst, topic)
	dst = append(dst, byte(id>>8), byte(id))
	return append(dst, payload...)
}

var errPacket = errors.New("mqtt: malformed packet")

// readPacket reads one packet into buf (grown as needed) and returns its
// first header byte and body.
func readPacket(r *bufio.Reader, buf []byte) (byte, []byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, buf, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		if i == 4 {
			return 0, buf, errPacket
		}
		b, err := r.ReadByte()
		if err != nil {
			return 0, buf, err
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, buf, err
	}
	return h, buf, nil
}

// connackErr checks a CONNACK body.
func connackErr(h byte, body []byte) error {
	if h&0xF0 != pktConnack || len(body) != 2 {
		return fmt.Errorf("mqtt: expected CONNACK, got packet %#x", h)
	}
	if body[1] != 0 {
		return fmt.Errorf("mqtt: connection refused, code %d", body[1])
	}
	return nil
}
