package exec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

// session is one run of the program.
type session struct {
	c    *Conn
	out  chan []byte   // lines for the program's stdin (bounded)
	done chan struct{} // closed when the session ends

	mu      sync.Mutex
	pending map[int64]chan rpcResult
	ended   bool

	errLog limiter
}

// stopMarker in the queue makes the writer close stdin.
var stopMarker = []byte{}

func (c *Conn) runOnce(ctx context.Context, sink connector.Sink) error {
	s := &session{c: c, out: make(chan []byte, c.s.queue), done: make(chan struct{}), pending: map[int64]chan rpcResult{}}
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return err
	}
	cmd := osexec.Command(c.s.argv[0], c.s.argv[1:]...)
	cmd.Dir = c.s.dir
	cmd.Env = append(programEnv(os.Environ()), c.s.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// Its own process group, so that stopping reaches its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return fmt.Errorf("start %s: %w", c.s.argv[0], err)
	}
	c.n.starts.Add(1)
	pid := cmd.Process.Pid
	c.env.Log.Info("program started", "pid", pid, "command", strings.Join(c.s.argv, " "))
	s.enqueue(helloOut{Type: "hello", Protocol: ProtocolVersion, Connector: c.env.Name, ConnectorType: "exec", Config: c.s.config})
	c.sess.Store(s)

	// The session's goroutines outlive a cancelled ctx until the program
	// has ended: the writer still has the stop message to deliver.
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	g, gctx := kit.NewGroup(sctx)
	// exited is closed once the program has ended but before it is reaped,
	// so that its process group id cannot have been reused when it is killed.
	exited := make(chan struct{})
	g.Go("wait", func() error {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return nil
			}
		}
	})
	readerDone := make(chan struct{})
	g.Go("stdin", func() error { return s.write(gctx, inW) })
	g.Go("stdout", func() error { defer close(readerDone); return s.read(ctx, g, outR, sink) })
	g.Go("stderr", func() error { s.stderr(errR); return nil })

	stopping := false
	select {
	case <-exited:
	case <-ctx.Done():
		stopping = true
		s.stop(pid, exited, false)
	case <-gctx.Done(): // one of our goroutines failed
		stopping = true
		s.stop(pid, exited, true)
	}
	// Whatever the program left behind in its group goes with it.
	unix.Kill(-pid, unix.SIGKILL)
	werr := cmd.Wait()
	c.n.exits.Add(1)
	c.sess.CompareAndSwap(s, nil)
	s.end()
	// Let the reader take what the program wrote before it ended.
	select {
	case <-readerDone:
	case <-time.After(2 * time.Second):
	}
	outR.Close()
	errR.Close()
	inW.Close()
	scancel()
	gerr := g.Wait()
	if stopping && ctx.Err() != nil {
		c.env.Log.Info("program stopped", "pid", pid, "status", cmd.ProcessState.String())
		return nil
	}
	if gerr != nil && !errors.Is(gerr, context.Canceled) {
		return gerr
	}
	if werr != nil {
		return fmt.Errorf("program exited: %w", werr)
	}
	return errors.New("program exited with status 0")
}

// programEnv is tbgw's environment without its own TB_GW_* settings,
// which may hold ThingsBoard credentials the program has no business
// seeing.
func programEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TB_GW_") {
			out = append(out, kv)
		}
	}
	return out
}

// stop asks the program to stop, then sends SIGTERM, then SIGKILL.
func (s *session) stop(pid int, exited chan struct{}, failed bool) {
	half := s.c.s.stop / 2
	if !failed {
		s.enqueue(stopOut{Type: "stop"})
		s.enqueueRaw(stopMarker)
		if waitClosed(exited, half) {
			return
		}
		s.c.env.Log.Info("program did not stop; sending SIGTERM", "pid", pid)
	}
	unix.Kill(-pid, unix.SIGTERM)
	if waitClosed(exited, half) {
		return
	}
	s.c.env.Log.Warn("program did not stop; sending SIGKILL", "pid", pid)
	s.c.n.killed.Add(1)
	unix.Kill(-pid, unix.SIGKILL)
	<-exited
}

func waitClosed(ch chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// end fails the RPCs still waiting.
func (s *session) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.done)
	}
}

// enqueue queues a message for the program's stdin without blocking; it
// reports false (and counts the drop) when the queue is full.
func (s *session) enqueue(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		s.c.env.Log.Error("cannot encode a message for the program", "err", err)
		return false
	}
	return s.enqueueRaw(append(b, '\n'))
}

// enqueueWait queues a message, waiting for room: acknowledgements are
// never dropped; a program that does not read them stops being read.
func (s *session) enqueueWait(ctx context.Context, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	select {
	case s.out <- append(b, '\n'):
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

func (s *session) enqueueRaw(b []byte) bool {
	select {
	case s.out <- b:
		return true
	default:
		s.c.n.stdinDropped.Add(1)
		return false
	}
}

// write feeds the program's stdin.
func (s *session) write(ctx context.Context, w *os.File) error {
	defer w.Close()
	for {
		select {
		case b := <-s.out:
			if len(b) == 0 { // stopMarker
				return nil
			}
			if _, err := w.Write(b); err != nil {
				// The program closed its stdin or ended: discard from now on.
				s.c.env.Log.Debug("program input closed", "err", err)
				for {
					select {
					case <-s.out:
					case <-ctx.Done():
						return nil
					}
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// lineReader reads newline-terminated lines of bounded length.
type lineReader struct {
	br  *bufio.Reader
	max int
	n   int64 // lines read
}

// next returns the next line without its newline. long is true (and line
// empty) for a line that exceeded the bound; it has been skipped.
func (l *lineReader) next() (line []byte, long bool, err error) {
	b, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = l.br.ReadSlice('\n')
		}
		l.n++
		if err != nil && err != io.EOF {
			return nil, true, err
		}
		return nil, true, nil
	}
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			l.n++
			return bytes.TrimSuffix(b, []byte("\r")), false, nil
		}
		return nil, false, err
	}
	l.n++
	b = b[:len(b)-1]
	return bytes.TrimSuffix(b, []byte("\r")), false, nil
}

// more tells whether a whole line is already buffered.
func (l *lineReader) more() bool {
	n := l.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := l.br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// read takes the program's output line by line. Data is stored in batches
// of the lines already buffered; a line is acknowledged after its batch
// was stored. While the storage is full the same batch is retried and
// nothing more is read, so the program blocks on its output.
func (s *session) read(ctx context.Context, g *kit.Group, r io.Reader, sink connector.Sink) error {
	c := s.c
	lr := &lineReader{br: bufio.NewReaderSize(r, c.s.maxLine+1), max: c.s.maxLine}
	var batch []connector.Data
	var seqs []uint64
	sem := make(chan struct{}, c.s.requestConc)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := backoff.Policy{Min: 50 * time.Millisecond, Max: 2 * time.Second}.New()
		for {
			err := sink.Send(ctx, batch)
			if err == nil {
				break
			}
			if errors.Is(err, connector.ErrStorageFull) {
				c.n.storageFullWaits.Add(1)
				if s.errLog.allow() {
					c.env.Log.Warn("event storage full: holding the program's output (lines are acknowledged once stored)")
				}
				if b.Wait(ctx) != nil {
					return ctx.Err()
				}
				continue
			}
			return err
		}
		c.n.stored.Add(uint64(len(batch)))
		clear(batch)
		batch = batch[:0]
		for _, q := range seqs {
			// Fails only when the program ended or the connector stops.
			if !s.enqueueWait(ctx, ackOut{Type: "ack", Seq: q}) {
				break
			}
			c.n.acks.Add(1)
		}
		seqs = seqs[:0]
		return nil
	}
	// The gateway stopping is no failure of the program: stop reading.
	fatal := func(err error) error {
		if err == nil || ctx.Err() != nil || errors.Is(err, connector.ErrStopping) {
			return nil
		}
		return err
	}
	for {
		line, long, err := lr.next()
		if err != nil {
			return fatal(flush())
		}
		c.n.lines.Add(1)
		if long {
			s.protocolError(lr.n, nil, fmt.Errorf("line longer than maxLineBytes (%d); skipped", c.s.maxLine))
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := decodeLine(line)
		if err != nil {
			s.protocolError(lr.n, m.Seq, err)
			continue
		}
		switch m.Type {
		case mTelemetry, mAttributes:
			batch = append(batch, m.Data)
			if m.Seq != nil {
				seqs = append(seqs, *m.Seq)
			}
			if len(batch) < c.s.batch && lr.more() {
				continue
			}
			if err := flush(); err != nil {
				return fatal(err)
			}
			continue
		}
		if err := flush(); err != nil {
			return fatal(err)
		}
		switch m.Type {
		case mConnect, mDisconnect:
			var err error
			if m.Type == mConnect {
				err = sink.Connect(ctx, m.Data.Device, m.Data.Type)
			} else {
				err = sink.Disconnect(ctx, m.Data.Device)
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.protocolError(lr.n, m.Seq, err)
				continue
			}
			if m.Seq != nil {
				if !s.enqueueWait(ctx, ackOut{Type: "ack", Seq: *m.Seq}) {
					return nil
				}
				c.n.acks.Add(1)
			}
		case mAttrRequest:
			select {
			case sem <- struct{}{}:
			default:
				s.enqueue(attrValuesOut{Type: "attributeValues", Seq: *m.Seq, Device: m.Data.Device, Error: "too many attribute requests in flight"})
				continue
			}
			g.Go("attributeRequest", func() error {
				defer func() { <-sem }()
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				vals, err := sink.RequestAttributes(rctx, m.Data.Device, m.Client, m.Keys)
				out := attrValuesOut{Type: "attributeValues", Seq: *m.Seq, Device: m.Data.Device, Values: vals}
				if err != nil {
					out.Values, out.Error = nil, err.Error()
				}
				s.enqueue(out)
				return nil
			})
		case mRPCReply:
			s.mu.Lock()
			ch, ok := s.pending[m.ID]
			delete(s.pending, m.ID)
			s.mu.Unlock()
			if !ok {
				s.protocolError(lr.n, m.Seq, fmt.Errorf("no RPC %d is waiting for a reply (it timed out or was answered)", m.ID))
				continue
			}
			ch <- rpcResult{result: m.Result, err: m.Err, isErr: m.HasErr}
		case mLog:
			c.env.Log.Log(ctx, level(m.Level), clipStr2(m.Msg, 4096), "source", "program")
		case mHello:
			c.env.Log.Debug("program speaks protocol", "version", m.Protocol)
		}
	}
}

func (s *session) protocolError(line int64, seq *uint64, err error) {
	s.c.n.protocolErrors.Add(1)
	if s.errLog.allow() {
		s.c.env.Log.Warn("protocol error from the program", "line", line, "err", err)
	}
	s.enqueue(errorOut{Type: "error", Line: line, Seq: seq, Error: err.Error()})
}

// stderr logs the program's standard error, line by line.
func (s *session) stderr(r io.Reader) {
	lr := &lineReader{br: bufio.NewReaderSize(r, 4096), max: 4095}
	for {
		line, long, err := lr.next()
		if err != nil {
			return
		}
		if long {
			s.c.env.Log.Info("program stderr: (long line skipped)")
			continue
		}
		if len(line) > 0 {
			s.c.env.Log.Info("program stderr: " + strings.ToValidUTF8(string(line), "?"))
		}
	}
}

// rpc sends an RPC to the program and waits for its reply.
func (s *session) rpc(ctx context.Context, id int64, req connector.RPC) (any, error) {
	ch := make(chan rpcResult, 1)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil, errors.New("the program is not running (it is being restarted)")
	}
	if len(s.pending) >= s.c.s.maxPending {
		s.mu.Unlock()
		return nil, fmt.Errorf("too many RPCs waiting for the program (maxPendingRpc %d)", s.c.s.maxPending)
	}
	s.pending[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	params := req.Params
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	timeout := req.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if !s.enqueue(rpcOut{Type: "rpc", ID: id, Device: req.Device, Method: req.Method, Params: params, TimeoutMs: timeout.Milliseconds()}) {
		return nil, errors.New("the program is not reading its input")
	}
	select {
	case r := <-ch:
		if r.isErr {
			return nil, errors.New(r.err)
		}
		return r.result, nil
	case <-s.done:
		return nil, errors.New("the program ended before it replied")
	case <-ctx.Done():
		return nil, fmt.Errorf("no reply from the program: %w", ctx.Err())
	}
}

func level(s string) slog.Level {
	switch s {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "critical", "fatal", "exception":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func clipStr2(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// limiter allows one event per second.
type limiter struct {
	mu   sync.Mutex
	last time.Time
}

func (l *limiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		return false
	}
	l.last = now
	return true
}
