package ocpp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tbgw/tbgw/codec/ocpp"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

// session is one connected charge point.
type session struct {
	c     *Connector
	sink  connector.Sink
	id    string
	proto string
	cp    *cpPlan
	conn  *websocket.Conn

	wmu sync.Mutex // serialises writes

	callSlot chan struct{} // one outgoing CALL at a time (OCPP-J rule)
	pmu      sync.Mutex
	pending  map[string]chan ocpp.Message
	seq      atomic.Uint64

	nmu     sync.Mutex
	name    string
	typ     string
	profile map[string]any

	done      chan struct{}
	closeOnce sync.Once
}

var errClosed = errors.New("charge point disconnected")

func newSession(c *Connector, sink connector.Sink, id, proto string, cp *cpPlan, conn *websocket.Conn) *session {
	return &session{c: c, sink: sink, id: id, proto: proto, cp: cp, conn: conn,
		callSlot: make(chan struct{}, 1), pending: map[string]chan ocpp.Message{}, done: make(chan struct{})}
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		_ = s.conn.Close()
	})
}

func (s *session) deviceName() string {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	return s.name
}

// run reads frames until the connection ends or ctx is cancelled; the
// pinger runs in g and ends with the session.
func (s *session) run(ctx context.Context, g *kit.Group) {
	defer s.close()
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	p := s.c.plan
	s.conn.SetReadLimit(p.maxMsg)
	if p.ping > 0 {
		deadline := func() { _ = s.conn.SetReadDeadline(time.Now().Add(p.ping + p.pong)) }
		deadline()
		s.conn.SetPongHandler(func(string) error { deadline(); return nil })
		g.Go("ping "+s.id, func() error { s.ping(p.ping, p.pong); return nil })
	}
	// A charger that already booted once keeps its name.
	if prof := s.c.profiles.get(s.id); prof != nil {
		s.setProfile(ctx, prof, false)
	}
	defer func() {
		if name := s.deviceName(); name != "" {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = s.sink.Disconnect(dctx, name)
			cancel()
		}
	}()
	for {
		mt, b, err := s.conn.ReadMessage()
		if err != nil {
			select {
			case <-s.done:
			default:
				s.c.log.Debug("ocpp: read", "id", s.id, "err", err)
			}
			return
		}
		if p.ping > 0 {
			_ = s.conn.SetReadDeadline(time.Now().Add(p.ping + p.pong))
		}
		s.c.stats.received.Add(1)
		if mt != websocket.TextMessage {
			s.replyError("-1", ocpp.KindFramework, "OCPP-J messages are text frames")
			continue
		}
		s.handleFrame(ctx, b)
	}
}

func (s *session) ping(every, timeout time.Duration) {
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)); err != nil {
				s.close()
				return
			}
			t.Reset(every)
		}
	}
}

func (s *session) handleFrame(ctx context.Context, b []byte) {
	m, err := ocpp.Parse(b)
	if err != nil {
		var e *ocpp.Error
		errors.As(err, &e)
		if m.Type == ocpp.CallResult || m.Type == ocpp.CallError {
			s.c.log.Warn("ocpp: malformed answer dropped", "id", s.id, "err", err)
			s.deliver(ocpp.Message{Type: ocpp.CallError, ID: m.ID, ErrCode: e.Kind.Code(s.proto), ErrDesc: e.Msg})
			return
		}
		s.c.log.Warn("ocpp: malformed message", "id", s.id, "err", err)
		s.replyError(e.ID, e.Kind, e.Msg)
		return
	}
	switch m.Type {
	case ocpp.Call:
		if err := ocpp.Validate(s.proto, m.Action, m.Payload); err != nil {
			var e *ocpp.Error
			errors.As(err, &e)
			s.c.log.Warn("ocpp: invalid call", "id", s.id, "action", m.Action, "err", err)
			s.replyError(m.ID, e.Kind, e.Msg)
			return
		}
		res, kind, msg := s.handleCall(ctx, m.Action, m.Payload)
		if msg != "" {
			s.replyError(m.ID, kind, msg)
			return
		}
		s.write(ocpp.AppendResult(nil, m.ID, res))
	default:
		s.deliver(m)
	}
}

func (s *session) deliver(m ocpp.Message) {
	s.pmu.Lock()
	ch := s.pending[m.ID]
	delete(s.pending, m.ID)
	s.pmu.Unlock()
	if ch == nil {
		s.c.log.Warn("ocpp: answer to no pending call", "id", s.id, "messageId", m.ID)
		return
	}
	ch <- m // buffered
}

func (s *session) replyError(id string, k ocpp.Kind, msg string) {
	s.c.stats.callErrors.Add(1)
	s.write(ocpp.AppendError(nil, id, k.Code(s.proto), msg))
}

func (s *session) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.plan.callTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		s.close()
		return fmt.Errorf("charge point %s: write: %w", s.id, err)
	}
	s.c.stats.sent.Add(1)
	return nil
}

// call sends a CALL and waits for its answer. A CALLERROR is returned as
// a *callError.
func (s *session) call(ctx context.Context, action string, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.plan.callTimeout)
	defer cancel()
	select {
	case s.callSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("charge point %s busy with another call: %w", s.id, ctx.Err())
	case <-s.done:
		return nil, errClosed
	}
	defer func() { <-s.callSlot }()
	id := strconv.FormatUint(s.seq.Add(1), 10)
	ch := make(chan ocpp.Message, 1)
	s.pmu.Lock()
	s.pending[id] = ch
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		delete(s.pending, id)
		s.pmu.Unlock()
	}()
	if err := s.write(ocpp.AppendCall(nil, id, action, payload)); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Type == ocpp.CallError {
			return nil, &callError{Code: m.ErrCode, Desc: m.ErrDesc}
		}
		return m.Payload, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no answer from charge point %s: %w", action, s.id, ctx.Err())
	case <-s.done:
		return nil, errClosed
	}
}

type callError struct{ Code, Desc string }

func (e *callError) Error() string { return "CALLERROR " + e.Code + ": " + e.Desc }
