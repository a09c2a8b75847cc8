package mqtt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// bufConn is the MQTT 5 client's connection: reads go through a buffer
// (paho.golang reads every packet with two or three small reads) filled
// by a coalescing reader, and each packet's pieces are written with one
// write. paho.golang locks a
// connection that is a sync.Locker around the writes of one packet; the
// buffered bytes go out when it unlocks, unless the connection is corked:
// then they wait for uncork, so that the acknowledgements of a stored
// batch leave in one write.
type bufConn struct {
	net.Conn
	r *bufio.Reader // used by paho's one reading goroutine only

	// Inbound PUBLISH packets of QoS 0 and 1 are decoded here and handed
	// to onPub from paho's reading goroutine; paho reads every other
	// packet. paho.golang's packet reader allocated about 4.5 kB in 22
	// pieces per message (buffers grown by 512 bytes for a 50-byte
	// payload) and handed each message to a second goroutine; here a
	// message costs its topic (interned) and payload (cut from a shared
	// slab). QoS 2 stays with paho: it keeps the state of its exchange.
	// The PUBACKs of these messages are written by ackSession.
	onPub  func(topic string, payload []byte, qos byte, id uint16)
	hdr    [5]byte // fixed header of the packet being passed to paho
	hdrOff int
	hdrN   int
	pass   int // body bytes of that packet still to pass to paho
	slab   []byte
	topics map[string]string

	mu     sync.Mutex
	corked int
	wbuf   []byte
	werr   error // the first failed write; the connection is closed then
}

// newBufConn wraps c; window is the least time between two small socket
// reads (0: none).
// rs, if not nil, follows the reads.
func newBufConn(c net.Conn, window time.Duration, rs *readStats) *bufConn {
	return &bufConn{Conn: c, r: newReader(c, window, rs)}
}

// newReader is the buffered, coalescing reader of c.
func newReader(c net.Conn, window time.Duration, rs *readStats) *bufio.Reader {
	return bufio.NewReaderSize(newCoalescer(c, window, rs), readBuffer)
}

// newCoalescer is the socket reader of c behind newReader's buffer.
func newCoalescer(c net.Conn, window time.Duration, rs *readStats) *coalescer {
	r := &coalescer{c: c, window: window, lowat: lowWater(c), frames: frames{rs: rs}}
	r.hooked = r.lowat != nil && onEmpty(c, r.lower)
	return r
}

// readConn is the MQTT 3.1 and 3.1.1 client's connection: its reads go
// through the same buffer and coalescing reader as MQTT 5's
// (paho.mqtt.golang reads every packet with two or three small reads, and
// at everyday rates each message woke the gateway for reads of its own);
// writes go straight to the socket.
type readConn struct {
	net.Conn
	r *bufio.Reader // used by paho's one reading goroutine only
}

func (c *readConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// readStats tell the connector about the socket reads of a session.
type readStats struct {
	pubs  atomic.Uint64 // PUBLISH packets read completely
	small atomic.Bool   // the last read was small: messages trickle in
}

const readBuffer = 32 << 10

// readLinger is the read window when the gateway names none.
const readLinger = 5 * time.Millisecond

// burstWait bounds how long a worker waits for the rest of a read burst
// (the reader hands its messages over one by one).
const burstWait = 10 * time.Millisecond

// coalescer is the socket reader behind the buffer. At everyday rates
// messages arrive one by one, each waking the gateway for a read of its
// own; after a small read the next one waits until window has passed
// since, so that it takes the messages of the whole window together (and
// the connector stores them as one batch). A read that fills half the
// buffer (high rates) is followed at once, and so is a read after one
// that completed a reply of the broker's (a SUBACK: the client is waiting
// for the next); after a quiet spell the first read does not wait either:
// nothing is delayed more than the window, and nothing ticks while idle. While it waits, the socket's low-water mark
// is raised to half the buffer (lowWater), so that messages arriving in
// the window do not wake the process one by one.
type coalescer struct {
	c      net.Conn
	window time.Duration
	lowat  func(n int) // sets the socket's receive low-water mark; nil: not supported
	// high: the mark is raised. hooked: the socket lowers it itself when
	// a read finds nothing (onEmpty), so a read after the window takes what
	// came with the mark left high, and at a steady rate the mark is
	// raised and lowered only around quiet spells, not every window.
	high, hooked bool
	last         time.Time // end of the previous read
	small        bool      // it returned less than half the buffer
	frames       frames
}

// frames follows the MQTT packet framing of the bytes read and counts the
// PUBLISH packets read completely: the connector's workers store a burst
// once every message read so far was handed to them.
type frames struct {
	rs     *readStats
	ctl    bool // the last bytes fed completed a packet other than PUBLISH
	skip   int  // body bytes left of the current packet
	typ    byte // first byte of the current packet
	inLen  bool // reading the remaining length
	length int
	shift  uint
}

func (f *frames) feed(p []byte, small bool) {
	if f.rs != nil {
		f.rs.small.Store(small)
	}
	f.ctl = false
	var n uint64
	for len(p) > 0 {
		switch {
		case f.skip > 0:
			k := min(f.skip, len(p))
			p, f.skip = p[k:], f.skip-k
			if f.skip == 0 {
				f.done(&n)
			}
		case !f.inLen:
			f.typ, p = p[0], p[1:]
			f.inLen, f.length, f.shift = true, 0, 0
		default:
			b := p[0]
			p = p[1:]
			f.length |= int(b&0x7f) << f.shift
			f.shift += 7
			if b&0x80 == 0 || f.shift >= 28 {
				f.inLen, f.skip = false, f.length
				if f.skip == 0 {
					f.done(&n)
				}
			}
		}
	}
	if n > 0 && f.rs != nil {
		f.rs.pubs.Add(n)
	}
}

// done notes a packet read completely: PUBLISH packets are counted.
func (f *frames) done(pubs *uint64) {
	if f.typ>>4 == 3 {
		*pubs++
	} else {
		f.ctl = true
	}
}

// waits reports whether the next read waits out the window: after a small
// read, unless it completed a reply of the broker's (CONNACK, SUBACK,
// PUBACK, PINGRESP, ...): the client is likely to wait for the next one
// then (the subscriptions of a new session go one by one).
func (r *coalescer) waits() bool { return r.small && !r.frames.ctl && r.window > 0 }

// lower sets the low-water mark back to one byte if it is raised.
func (r *coalescer) lower() {
	if r.high {
		r.lowat(1)
		r.high = false
	}
}

func (r *coalescer) Read(p []byte) (int, error) {
	if r.waits() {
		if wait := r.window - time.Since(r.last); wait > 0 {
			if r.lowat != nil && !r.high {
				r.lowat(readBuffer / 2)
				r.high = true
			}
			time.Sleep(wait)
			if !r.hooked {
				r.lower() // the read below may wait: any byte wakes it again
			}
		}
	}
	n, err := r.c.Read(p)
	r.last, r.small = time.Now(), n < len(p)/2
	r.frames.feed(p[:n], r.small)
	return n, err
}

// Read gives paho the packets it handles, decoding and handing over the
// PUBLISH packets of QoS 0 and 1 in between (when onPub is set).
func (c *bufConn) Read(p []byte) (int, error) {
	if c.onPub == nil {
		return c.r.Read(p)
	}
	for {
		if c.hdrOff < c.hdrN {
			n := copy(p, c.hdr[c.hdrOff:c.hdrN])
			c.hdrOff += n
			return n, nil
		}
		if c.pass > 0 {
			n, err := c.r.Read(p[:min(len(p), c.pass)])
			c.pass -= n
			return n, err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
}

var errMalformed = errors.New("malformed PUBLISH packet")

// next reads the fixed header of the next packet. A PUBLISH of QoS 0 or
// 1 is read whole and handed over; any other packet is set up to pass to
// paho unchanged.
func (c *bufConn) next() error {
	b0, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	c.hdr[0] = b0
	n, length := 1, 0
	for shift := 0; ; shift += 7 {
		if n == len(c.hdr) {
			return errors.New("malformed remaining length")
		}
		b, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		c.hdr[n] = b
		n++
		length |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
	}
	if qos := b0 >> 1 & 3; b0>>4 == 3 && qos < 2 {
		return c.publish(qos, length)
	}
	c.hdrOff, c.hdrN, c.pass = 0, n, length
	return nil
}

// publish reads the body of a PUBLISH packet and hands its message over.
func (c *bufConn) publish(qos byte, length int) error {
	var body []byte
	var err error
	peeked := length <= c.r.Size()
	if peeked {
		body, err = c.r.Peek(length)
	} else {
		// Grown as the bytes arrive: a remaining length claims up to
		// 256 MiB before any of it has come.
		var buf bytes.Buffer
		var n int64
		n, err = io.CopyN(&buf, c.r, int64(length))
		if err == nil && n == int64(length) {
			body = buf.Bytes()
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if len(body) < 2 {
		return errMalformed
	}
	tl := int(binary.BigEndian.Uint16(body))
	if len(body) < 2+tl {
		return errMalformed
	}
	topic := c.topic(body[2 : 2+tl])
	body = body[2+tl:]
	var id uint16
	if qos > 0 {
		if len(body) < 2 {
			return errMalformed
		}
		if id = binary.BigEndian.Uint16(body); id == 0 {
			return errMalformed
		}
		body = body[2:]
	}
	// Properties (MQTT 5): the connector uses none. Topic aliases are
	// not offered in CONNECT, so the broker sends none.
	plen, k := binary.Uvarint(body)
	if k <= 0 || k > 4 || plen > uint64(len(body)-k) {
		return errMalformed
	}
	payload := body[k+int(plen):] // read into a buffer of its own
	if peeked {
		payload = c.keep(payload)  // out of the read buffer
		_, _ = c.r.Discard(length) // buffered: cannot fail
	}
	c.onPub(topic, payload, qos, id)
	return nil
}

// slabSize is the size of the blocks payloads are copied into.
const slabSize = 8 << 10

// keep copies a payload out of the read buffer.
func (c *bufConn) keep(b []byte) []byte {
	if len(b) > slabSize/8 {
		return append(make([]byte, 0, len(b)), b...)
	}
	if cap(c.slab)-len(c.slab) < len(b) {
		c.slab = make([]byte, 0, slabSize)
	}
	s := len(c.slab)
	c.slab = append(c.slab, b...)
	return c.slab[s:len(c.slab):len(c.slab)]
}

// maxTopics bounds the interned topic names.
const maxTopics = 4096

// topic returns b as a string, the same one for every message of a topic.
func (c *bufConn) topic(b []byte) string {
	if s, ok := c.topics[string(b)]; ok {
		return s
	}
	s := string(b)
	if c.topics == nil || len(c.topics) >= maxTopics {
		c.topics = make(map[string]string)
	}
	c.topics[s] = s
	return s
}

// writePuback queues the PUBACK of a message decoded by Read: written at
// once, or with the rest of a corked batch.
func (c *bufConn) writePuback(id uint16) {
	c.mu.Lock()
	if c.werr == nil {
		// MQTT 5: reason code and properties left out (success).
		c.wbuf = append(c.wbuf, 0x40, 2, byte(id>>8), byte(id))
	}
	if c.corked == 0 {
		c.flushLocked()
	}
	c.mu.Unlock()
}

// Lock and Unlock bracket the writes of one packet.
func (c *bufConn) Lock() { c.mu.Lock() }

func (c *bufConn) Unlock() {
	if c.corked == 0 {
		c.flushLocked()
	}
	c.mu.Unlock()
}

// Write buffers p; callers hold the lock (paho.golang takes it for every
// packet it writes).
func (c *bufConn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	c.wbuf = append(c.wbuf, p...)
	return len(p), nil
}

// cork holds back writes until the matching uncork.
func (c *bufConn) cork() {
	c.mu.Lock()
	c.corked++
	c.mu.Unlock()
}

func (c *bufConn) uncork() {
	c.mu.Lock()
	if c.corked--; c.corked == 0 {
		c.flushLocked()
	}
	c.mu.Unlock()
}

func (c *bufConn) flushLocked() {
	if len(c.wbuf) == 0 {
		return
	}
	if c.werr == nil {
		if _, err := c.Conn.Write(c.wbuf); err != nil {
			c.werr = err
			_ = c.Conn.Close() // the reader fails and paho notices the loss
		}
	}
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
}
