package kit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

func TestSetup(t *testing.T) {
	var buf bytes.Buffer
	env := connector.Env{Name: "plant", Log: slog.New(slog.NewTextHandler(&buf, nil))}
	var cfg struct {
		Host string `json:"host"`
		Port int    `json:"port"`
	}
	doc, err := Setup("demo", []byte(`{"host": "a", "port": 1, "extra": true}`), &env, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "a" || cfg.Port != 1 || env.File != "plant.json" || env.Type != "demo" || env.Now == nil {
		t.Fatalf("%+v %+v", cfg, env)
	}
	if !strings.Contains(buf.String(), "extra") {
		t.Fatalf("unknown key not warned: %q", buf.String())
	}
	e := Errorf(env, doc.Errorf("port", "must be above %d", 1))
	if !strings.HasPrefix(e.Error(), `demo connector "plant": plant.json:1:`) || !strings.Contains(e.Error(), "port: must be above 1") {
		t.Fatalf("error %q", e)
	}
	_, err = Setup("demo", []byte(`{"port": "x"}`), &connector.Env{}, &cfg)
	if err == nil || !strings.Contains(err.Error(), `demo connector "demo": demo.json:1:`) {
		t.Fatalf("error %v", err)
	}
}

func TestGroupPanicBecomesError(t *testing.T) {
	g, ctx := NewGroup(context.Background())
	g.Go("waiter", func() error { <-ctx.Done(); return nil })
	g.Go("worker", func() error { var m map[string]int; m["x"] = 1; return nil })
	err := g.Wait()
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Goroutine != "worker" || len(pe.Stack) == 0 {
		t.Fatalf("err %v", err)
	}
}

func TestGroupNilReturnsKeepOthers(t *testing.T) {
	g, ctx := NewGroup(context.Background())
	g.Go("quick", func() error { return nil })
	stop := make(chan struct{})
	g.Go("slow", func() error {
		select {
		case <-ctx.Done():
			return errors.New("cancelled by a nil return")
		case <-stop:
			return nil
		}
	})
	close(stop)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

type fullSink struct {
	connector.Sink
	mu  sync.Mutex
	err error
	n   int
}

func (s *fullSink) Send(ctx context.Context, items []connector.Data) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += len(items)
	return s.err
}

func TestSenderDropsOnFull(t *testing.T) {
	var buf bytes.Buffer
	fs := &fullSink{err: connector.ErrStorageFull}
	s := NewSender(fs, slog.New(slog.NewTextHandler(&buf, nil)))
	items := []connector.Data{{Device: "a"}, {Device: "b"}}
	for range 3 {
		if err := s.Send(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
	if s.Dropped() != 6 || s.Sent() != 0 {
		t.Fatalf("dropped %d sent %d", s.Dropped(), s.Sent())
	}
	if strings.Count(buf.String(), "storage is full") != 1 {
		t.Fatalf("want one warning, got %q", buf.String())
	}
	fs.err = connector.ErrStopping
	if err := s.Send(context.Background(), items); !errors.Is(err, connector.ErrStopping) {
		t.Fatal(err)
	}
	fs.err = nil
	_ = s.Send(context.Background(), items)
	if s.Sent() != 2 {
		t.Fatal(s.Sent())
	}
}

func TestCounters(t *testing.T) {
	var c Counters
	c.Add("polls", 2)
	c.Counter("timeouts").Add(1)
	c.Add("polls", 1)
	st := c.Stats()
	if st["polls"] != 3 || st["timeouts"] != 1 || c.Get("none") != 0 {
		t.Fatal(st)
	}
	if n := c.Names(); len(n) != 2 || n[0] != "polls" {
		t.Fatal(n)
	}
}
