package gw

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tb"
)

// NewPrintLink builds, in place of the ThingsBoard connection, the link
// of commissioning mode (`tbgw run -dry-run`): it is connected from the
// start, never touches the network, and writes each message the gateway
// would publish to w as one JSON line, {"topic": ..., "payload": ...}
// (the payload as JSON when it is JSON, else as a string), and
// acknowledges it at once.
func NewPrintLink(w io.Writer) func(cfg *config.Config, h LinkHandler) (LinkRunner, error) {
	return func(cfg *config.Config, h LinkHandler) (LinkRunner, error) {
		max := cfg.ThingsBoard.MaxPayloadSizeBytes
		if max <= 0 {
			max = tb.DefaultMaxPayloadSize
		}
		return &printLink{w: w, h: h, max: max}, nil
	}
}

type printLink struct {
	mu  sync.Mutex
	w   io.Writer
	h   LinkHandler
	max int
}

func (l *printLink) Run(ctx context.Context) error {
	if l.h.OnConnect != nil {
		l.h.OnConnect()
	}
	<-ctx.Done()
	return nil
}

func (l *printLink) Connected() bool { return true }
func (l *printLink) MaxPayload() int { return l.max }

func (l *printLink) Publish(_ context.Context, topic string, payload []byte, _ byte, _ int) (Token, error) {
	line := struct {
		Topic   string `json:"topic"`
		Payload any    `json:"payload"`
	}{Topic: topic, Payload: string(payload)}
	if json.Valid(payload) {
		line.Payload = json.RawMessage(payload)
	}
	b, err := json.Marshal(line)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return doneToken{}, nil
}

func (l *printLink) RequestDeviceAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, errors.New("dry run: not connected to ThingsBoard, no attributes to request")
}

type doneToken struct{}

func (doneToken) Wait(context.Context) error { return nil }
