package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// aliveTimeout bounds how long a health request waits for the gateway's
// main loops.
const aliveTimeout = 5 * time.Second

// Server serves a Source on a unix socket, an HTTP address, or both.
type Server struct {
	src    Source
	log    *slog.Logger
	sock   net.Listener
	path   string
	httpLn net.Listener
	// ctx ends at Close: requests waiting for the gateway give up.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // open HTTP connections
	closing bool
}

// Start listens on socket (a unix socket path; "" for none) and httpAddr
// (host:port, the host defaulting to 127.0.0.1; "" for none) and serves
// src until Close. A stale socket file left by a gateway that died is
// replaced; one a running gateway answers on is an error.
func Start(src Source, socket, httpAddr string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{src: src, log: log, conns: map[net.Conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if socket != "" {
		ln, err := listenSocket(socket)
		if err != nil {
			return nil, err
		}
		s.sock, s.path = ln, socket
		s.wg.Go(s.serveSocket)
	}
	if httpAddr != "" {
		addr, err := loopbackDefault(httpAddr)
		if err != nil {
			s.Close()
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("health endpoint: %w", err)
		}
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
			log.Warn("health endpoint is reachable from the network; it has no authentication", "addr", ln.Addr().String())
		}
		s.httpLn = ln
		s.wg.Go(s.serveHTTP)
	}
	return s, nil
}

// loopbackDefault fills in 127.0.0.1 where addr has no host.
func loopbackDefault(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("health endpoint address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// HTTPAddr is the address the HTTP endpoint listens on ("" when off).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Close stops serving, waits for the servers and removes the socket
// file. It may be called more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.sock != nil {
			s.sock.Close()
		}
		if s.httpLn != nil {
			s.httpLn.Close()
		}
		s.cancel()
		s.mu.Lock()
		s.closing = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return nil
}

func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("status socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("status socket %s: another gateway serves it", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	// The listener removes the file on Close.
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	// Readable by the service's group (e.g. an admin group), not others.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("status socket: %w", err)
	}
	return ln, nil
}

// serveSocket answers every connection with the state as one JSON
// document, then closes it.
func (s *Server) serveSocket() {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.sock.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("status socket stopped", "err", err)
			}
			return
		}
		conns.Go(func() {
			defer c.Close()
			c.SetWriteDeadline(time.Now().Add(aliveTimeout))
			if err := json.NewEncoder(c).Encode(s.src.Status()); err != nil {
				s.log.Debug("status socket", "err", err)
			}
		})
	}
}
