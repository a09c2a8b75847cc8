package ocpp

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

// handler accepts charge point connections: authentication, subprotocol
// and charge point matching happen before the WebSocket upgrade, so a
// refused charger gets a plain HTTP status.
type handler struct {
	c    *Connector
	ctx  context.Context
	sink connector.Sink
}

var writeBuffers = &sync.Pool{}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func (h *handler) authorized(r *http.Request) bool {
	p := h.c.plan
	if !p.secured {
		return true
	}
	got := r.Header.Get("Authorization")
	if got == "" {
		return false
	}
	ok := 0
	for _, t := range p.tokens {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(t))
	}
	for _, b := range p.basics {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(b))
	}
	return ok == 1
}

func (h *handler) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.c.stats.rejected.Add(1)
	h.c.log.Warn("ocpp: connection refused", "remote", r.RemoteAddr, "path", r.URL.Path, "status", code, "reason", msg)
	http.Error(w, msg, code)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	id := strings.Trim(r.URL.Path, "/")
	if !websocket.IsWebSocketUpgrade(r) {
		h.refuse(w, r, http.StatusBadRequest, "OCPP-J needs a WebSocket upgrade")
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="OCPP"`)
		h.refuse(w, r, http.StatusUnauthorized, "charge point not authorized")
		return
	}
	proto := ""
	for _, offered := range websocket.Subprotocols(r) {
		for _, s := range c.plan.subprotocols {
			if offered == s && proto == "" {
				proto = s
			}
		}
	}
	if proto == "" {
		h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("no supported OCPP subprotocol offered (supported: %s)",
			strings.Join(c.plan.subprotocols, ", ")))
		return
	}
	if id == "" {
		h.refuse(w, r, http.StatusNotFound, "charge point id missing from the URL path")
		return
	}
	cp := c.match(id, r.RemoteAddr)
	if cp == nil {
		h.refuse(w, r, http.StatusNotFound, "charge point id not configured")
		return
	}
	c.mu.Lock()
	full := len(c.sessions)+int(c.upgrading.Load()) >= c.plan.maxConns && c.sessions[id] == nil
	c.mu.Unlock()
	if full {
		h.refuse(w, r, http.StatusServiceUnavailable, "too many charge points connected")
		return
	}
	// Count the connection while upgrading so that a burst cannot exceed
	// the limit.
	c.upgrading.Add(1)
	defer c.upgrading.Add(-1)

	up := websocket.Upgrader{
		// Read through the HTTP server's buffer; idle connections hold no
		// write buffer.
		WriteBufferPool: writeBuffers,
		Subprotocols:    []string{proto},
		CheckOrigin:     func(*http.Request) bool { return true }, // chargers are not browsers
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		c.stats.rejected.Add(1)
		c.log.Warn("ocpp: upgrade failed", "remote", r.RemoteAddr, "id", id, "err", err)
		return
	}
	s := newSession(c, h.sink, id, proto, cp, conn)
	// The session runs in the connector's group, not in this handler's
	// goroutine, which ends now (the connection is hijacked).
	if !c.register(s, func(g *kit.Group) {
		g.Go("charge point "+id, func() error {
			defer c.unregister(s)
			defer s.close()
			c.log.Info("ocpp: charge point connected", "id", id, "protocol", proto, "remote", r.RemoteAddr)
			s.run(h.ctx, g)
			c.log.Info("ocpp: charge point disconnected", "id", id)
			return nil
		})
	}) {
		s.close()
		return
	}
	c.stats.connections.Add(1)
}

// match finds the first charge point entry whose idRegexpPattern matches
// id at its start (as upstream's re.match) and whose optional host and
// port patterns match the peer.
func (c *Connector) match(id, remote string) *cpPlan {
	host, port, _ := net.SplitHostPort(remote)
	for _, cp := range c.plan.cps {
		if !cp.id.Match(id) {
			continue
		}
		if cp.host != nil && !cp.host.Match(host) {
			continue
		}
		if cp.port != nil && !cp.port.Match(port) {
			continue
		}
		return cp
	}
	return nil
}

// register makes s the session of its charge point, closing an older
// connection of the same charger (the charger has evidently lost it).
func (c *Connector) register(s *session, start func(*kit.Group)) bool {
	c.mu.Lock()
	if !c.running {
		c.mu.Unlock()
		return false
	}
	old := c.sessions[s.id]
	c.sessions[s.id] = s
	start(c.group) // under c.mu: the group is still waiting (see Run)
	c.mu.Unlock()
	if old != nil {
		c.log.Info("ocpp: charge point reconnected, closing its previous connection", "id", s.id)
		old.close()
	}
	return true
}

func (c *Connector) unregister(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[s.id] == s {
		delete(c.sessions, s.id)
	}
	if name := s.deviceName(); name != "" && c.byDevice[name] == s {
		delete(c.byDevice, name)
	}
}

// bindDevice records that device name is served by s.
func (c *Connector) bindDevice(s *session, old, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old != "" && old != name && c.byDevice[old] == s {
		delete(c.byDevice, old)
	}
	c.byDevice[name] = s
}

func (c *Connector) device(name string) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byDevice[name]
}
