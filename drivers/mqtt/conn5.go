package mqtt

import (
	"bufio"
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

	mu     sync.Mutex
	corked int
	wbuf   []byte
	werr   error // the first failed write; the connection is closed then
}

// newBufConn wraps c; window is the least time between two small socket
// reads (0: none).
// rs, if not nil, follows the reads.
func newBufConn(c net.Conn, window time.Duration, rs *readStats) *bufConn {
	return &bufConn{Conn: c, r: bufio.NewReaderSize(&coalescer{c: c, window: window, lowat: lowWater(c), frames: frames{rs: rs}}, readBuffer)}
}

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
// buffer (high rates) is followed at once, and after a quiet spell the
// first read does not wait: nothing is delayed more than the window, and
// nothing ticks while idle. While it waits, the socket's low-water mark
// is raised to half the buffer (lowWater), so that messages arriving in
// the window do not wake the process one by one.
type coalescer struct {
	c      net.Conn
	window time.Duration
	lowat  func(n int) // sets the socket's receive low-water mark; nil: not supported
	last   time.Time   // end of the previous read
	small  bool        // it returned less than half the buffer
	frames frames
}

// frames follows the MQTT packet framing of the bytes read and counts the
// PUBLISH packets read completely: the connector's workers store a burst
// once every message read so far was handed to them.
type frames struct {
	rs     *readStats
	skip   int  // body bytes left of the current packet
	typ    byte // first byte of the current packet
	inLen  bool // reading the remaining length
	length int
	shift  uint
}

func (f *frames) feed(p []byte, small bool) {
	if f.rs == nil {
		return
	}
	f.rs.small.Store(small)
	var n uint64
	for len(p) > 0 {
		switch {
		case f.skip > 0:
			k := min(f.skip, len(p))
			p, f.skip = p[k:], f.skip-k
			if f.skip == 0 && f.typ>>4 == 3 {
				n++
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
				if f.skip == 0 && f.typ>>4 == 3 {
					n++
				}
			}
		}
	}
	if n > 0 {
		f.rs.pubs.Add(n)
	}
}

func (r *coalescer) Read(p []byte) (int, error) {
	if r.small && r.window > 0 {
		if wait := r.window - time.Since(r.last); wait > 0 {
			if r.lowat != nil {
				r.lowat(readBuffer / 2)
			}
			time.Sleep(wait)
			if r.lowat != nil {
				r.lowat(1) // the read below may wait: any byte wakes it again
			}
		}
	}
	n, err := r.c.Read(p)
	r.last, r.small = time.Now(), n < len(p)/2
	r.frames.feed(p[:n], r.small)
	return n, err
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

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
