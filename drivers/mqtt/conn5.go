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

// newBufConn wraps c; window is the least time between two small socket
// reads (0: none).
func newBufConn(c net.Conn, window time.Duration) *bufConn {
	return &bufConn{Conn: c, r: bufio.NewReaderSize(&coalescer{c: c, window: window}, readBuffer)}
}

const readBuffer = 32 << 10

// readLinger is the read window when the gateway names none.
const readLinger = 5 * time.Millisecond

// burstSettle is how long a worker waits after the first message of a
// read burst for the rest of it: the reader hands the messages of one
// socket read over one by one.
const burstSettle = 2 * time.Millisecond

// coalescer is the socket reader behind the buffer. At everyday rates
// messages arrive one by one, each waking the gateway for a read of its
// own; after a small read the next one waits until window has passed
// since, so that it takes the messages of the whole window together (and
// the connector stores them as one batch). A read that fills half the
// buffer (high rates) is followed at once, and after a quiet spell the
// first read does not wait: nothing is delayed more than the window, and
// nothing ticks while idle.
type coalescer struct {
	c      net.Conn
	window time.Duration
	last   time.Time // end of the previous read
	small  bool      // it returned less than half the buffer
}

func (r *coalescer) Read(p []byte) (int, error) {
	if r.small && r.window > 0 {
		if wait := r.window - time.Since(r.last); wait > 0 {
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
