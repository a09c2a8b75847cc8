package mqtt

import (
	"bufio"
	"net"
	"sync"
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

func newBufConn(c net.Conn) *bufConn {
	return &bufConn{Conn: c, r: bufio.NewReaderSize(&coalescer{c: c}, readBuffer)}
}

const readBuffer = 32 << 10

// readLinger is the least time between two small socket reads. At
// everyday rates messages arrive one by one, each waking the gateway for
// a read of its own; waiting this long after a small read lets the
// next read take the messages of the whole interval together. A read that
// fills half the buffer (high rates) is followed at once, and after a
// quiet spell the first read does not wait: nothing is delayed more than
// this, and nothing ticks while idle.
const readLinger = 5 * time.Millisecond

// coalescer is the socket reader behind the buffer.
type coalescer struct {
	c     net.Conn
	last  time.Time // end of the previous read
	small bool      // it returned less than half the buffer
}

func (r *coalescer) Read(p []byte) (int, error) {
	if r.small {
		if wait := readLinger - time.Since(r.last); wait > 0 {
			time.Sleep(wait)
		}
	}
	n, err := r.c.Read(p)
	r.last, r.small = time.Now(), n < len(p)/2
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
