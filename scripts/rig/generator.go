package rig

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// GenConfig configures the load generator.
type GenConfig struct {
	Addr    string    // device broker host:port
	Devices []*Device // devices to publish for (round robin per connection)
	Conns   int       // MQTT connections (devices are spread over them); default 4
	// Rate is the target in messages per second over all connections;
	// 0 publishes as fast as the in-flight windows allow.
	Rate float64
	// Window is the QoS 1 publishes awaiting PUBACK per connection;
	// default 1000.
	Window int
	// MaxBacklog, when > 0, pauses publishing while more than this many
	// acknowledged messages have not reached ThingsBoard: a closed loop
	// that finds the highest rate the gateway sustains.
	MaxBacklog int64
	// Values is the number of value keys v1..vN per message; default 6.
	Values int
	// TopicPrefix and TopicSuffix surround the device name in the topic;
	// defaults "sensor/" and "/data".
	TopicPrefix, TopicSuffix string
}

// Generator publishes device telemetry to the device broker at QoS 1:
// topic sensor/<device>/data, payload {"seq":N,"t":T,"v1":...}, where N is
// the device's sequence number and T the send time on the ledger clock.
// It reconnects after a lost connection and publishes again every message
// not yet acknowledged.
type Generator struct {
	led   *Ledger
	cfg   GenConfig
	rate  atomic.Uint64 // math.Float64bits of messages/s per connection
	rgen  atomic.Int64  // bumped by SetRate
	pause atomic.Bool
	stop  atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	conns  []*genConn

	connects, losses atomic.Int64
}

// StartGenerator starts publishing.
func StartGenerator(led *Ledger, cfg GenConfig) *Generator {
	if cfg.Conns <= 0 {
		cfg.Conns = 4
	}
	cfg.Conns = min(cfg.Conns, max(len(cfg.Devices), 1))
	if cfg.Window <= 0 {
		cfg.Window = 1000
	}
	cfg.Window = min(cfg.Window, 60000)
	if cfg.Values <= 0 {
		cfg.Values = 6
	}
	if cfg.TopicPrefix == "" && cfg.TopicSuffix == "" {
		cfg.TopicPrefix, cfg.TopicSuffix = "sensor/", "/data"
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Generator{led: led, cfg: cfg, cancel: cancel}
	g.SetRate(cfg.Rate)
	for i := range cfg.Conns {
		c := &genConn{g: g, id: fmt.Sprintf("rig-gen-%d-%d", i, time.Now().UnixNano()%1e9),
			slots: make(chan struct{}, cfg.Window)}
		for j := i; j < len(cfg.Devices); j += cfg.Conns {
			d := cfg.Devices[j]
			c.devs = append(c.devs, genDev{d: d, topic: cfg.TopicPrefix + d.Name + cfg.TopicSuffix})
		}
		g.conns = append(g.conns, c)
		g.wg.Add(1)
		go func() { defer g.wg.Done(); c.run(ctx) }()
	}
	return g
}

// SetRate changes the target rate (messages/s over all connections; 0:
// flat out).
func (g *Generator) SetRate(r float64) {
	g.rate.Store(math.Float64bits(r / float64(g.cfg.Conns)))
	g.rgen.Add(1)
}

// Pause stops publishing new messages (acknowledgements and re-sends go
// on) until Resume.
func (g *Generator) Pause()  { g.pause.Store(true) }
func (g *Generator) Resume() { g.rgen.Add(1); g.pause.Store(false) }

// Pending is the number of published messages not yet acknowledged.
func (g *Generator) Pending() int {
	n := 0
	for _, c := range g.conns {
		n += len(c.slots)
	}
	return n
}

// Reconnects returns how many connections were made and lost.
func (g *Generator) Reconnects() (connects, losses int64) { return g.connects.Load(), g.losses.Load() }

// Stop stops publishing new messages, waits up to wait for the
// acknowledgement of everything published (re-sending after reconnects),
// then disconnects. It returns the number of messages left unacknowledged.
func (g *Generator) Stop(wait time.Duration) int {
	g.stop.Store(true)
	deadline := time.Now().Add(wait)
	for g.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	left := g.Pending()
	g.cancel()
	g.wg.Wait()
	return left
}

type genDev struct {
	d     *Device
	topic string
}

type pending struct {
	dev  *genDev
	seq  uint64
	sent int64
	used bool
}

// genConn is one publishing connection.
type genConn struct {
	g     *Generator
	id    string
	devs  []genDev
	slots chan struct{} // one per message awaiting PUBACK

	mu     sync.Mutex
	pend   [65536]pending
	nextID uint16
}

func (c *genConn) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		c.g.connects.Add(1)
		c.session(ctx, conn)
		if ctx.Err() == nil {
			c.g.losses.Add(1)
		}
	}
}

func (c *genConn) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.g.cfg.Addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(appendConnect(nil, c.id, 60)); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	h, body, err := readPacket(br, nil)
	if err == nil {
		err = connackErr(h, body)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return &bufConn{Conn: conn, r: br}, nil
}

// bufConn keeps the reader that consumed the CONNACK.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

// session publishes over conn until it is lost or ctx ends.
func (c *genConn) session(ctx context.Context, conn net.Conn) {
	lost := make(chan struct{})
	var once sync.Once
	fail := func() { once.Do(func() { close(lost); conn.Close() }) }
	stop := context.AfterFunc(ctx, fail)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer fail()
		c.read(conn.(*bufConn).r)
	}()
	defer wg.Wait()
	defer fail()

	w := bufio.NewWriterSize(conn, 64<<10)
	var buf, payload []byte
	// Publish again whatever is unacknowledged.
	c.mu.Lock()
	for id := range c.pend {
		p := &c.pend[id]
		if !p.used {
			continue
		}
		payload = c.payload(payload[:0], p.seq, p.sent)
		buf = appendPublish(buf[:0], p.dev.topic, uint16(id), true, payload)
		if _, err := w.Write(buf); err != nil {
			c.mu.Unlock()
			return
		}
	}
	c.mu.Unlock()
	if w.Flush() != nil {
		return
	}

	g := c.g
	rgen := int64(-1)
	var start time.Time
	var sent int64
	next := 0
	lastWrite := time.Now()
	for {
		select {
		case <-lost:
			return
		default:
		}
		if g.stop.Load() || g.pause.Load() || g.cfg.MaxBacklog > 0 && c.g.led.Backlog() > g.cfg.MaxBacklog || len(c.devs) == 0 {
			if w.Flush() != nil {
				return
			}
			if time.Since(lastWrite) > 20*time.Second {
				if _, err := w.Write([]byte{pktPingreq, 0}); err != nil || w.Flush() != nil {
					return
				}
				lastWrite = time.Now()
			}
			if !sleepOr(lost, time.Millisecond) {
				return
			}
			continue
		}
		rate := math.Float64frombits(g.rate.Load())
		if gen := g.rgen.Load(); gen != rgen {
			rgen, start, sent = gen, time.Now(), 0
		}
		due := int64(256)
		if rate > 0 {
			el := time.Since(start)
			due = int64(rate*el.Seconds()) - sent
			if due > int64(rate)+256 { // fell behind by over a second: do not burst
				start, sent = time.Now(), 0
				due = 1
			}
			if due <= 0 {
				if w.Flush() != nil {
					return
				}
				wait := time.Duration(float64(sent+1)/rate*1e9) - el
				if !sleepOr(lost, max(wait, 50*time.Microsecond)) {
					return
				}
				continue
			}
			due = min(due, 256)
		}
		for range due {
			select {
			case c.slots <- struct{}{}:
			default:
				if w.Flush() != nil {
					return
				}
				select {
				case c.slots <- struct{}{}:
				case <-lost:
					return
				}
			}
			gd := &c.devs[next]
			next = (next + 1) % len(c.devs)
			seq := g.led.Next(gd.d)
			now := g.led.Now()
			c.mu.Lock()
			id := c.allocLocked()
			c.pend[id] = pending{dev: gd, seq: seq, sent: now, used: true}
			c.mu.Unlock()
			payload = c.payload(payload[:0], seq, now)
			buf = appendPublish(buf[:0], gd.topic, id, false, payload)
			if _, err := w.Write(buf); err != nil {
				return
			}
			sent++
		}
		lastWrite = time.Now()
		if w.Buffered() > 0 && (rate > 0 || len(c.slots) == cap(c.slots)) {
			if w.Flush() != nil {
				return
			}
		}
	}
}

func sleepOr(lost <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-lost:
		return false
	case <-t.C:
		return true
	}
}

// allocLocked returns a free packet identifier.
func (c *genConn) allocLocked() uint16 {
	for {
		c.nextID++
		if c.nextID != 0 && !c.pend[c.nextID].used {
			return c.nextID
		}
	}
}

// payload renders {"seq":N,"t":T,"v1":...}.
func (c *genConn) payload(dst []byte, seq uint64, sent int64) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, sent, 10)
	for i := 1; i <= c.g.cfg.Values; i++ {
		dst = append(dst, `,"v`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `":`...)
		// A value that changes with seq: 20.00 .. 29.99.
		dst = strconv.AppendFloat(dst, 20+float64((seq*7+uint64(i)*13)%1000)/100, 'f', -1, 64)
	}
	return append(dst, '}')
}

// read handles PUBACKs until the connection ends.
func (c *genConn) read(r *bufio.Reader) {
	var buf []byte
	for {
		h, body, err := readPacket(r, buf)
		buf = body
		if err != nil {
			return
		}
		if h&0xF0 != pktPuback || len(body) < 2 {
			continue
		}
		id := uint16(body[0])<<8 | uint16(body[1])
		c.mu.Lock()
		p := c.pend[id]
		if p.used {
			c.pend[id] = pending{}
		}
		c.mu.Unlock()
		if p.used {
			c.g.led.Acked(p.dev.d, p.seq)
			<-c.slots
		}
	}
}
