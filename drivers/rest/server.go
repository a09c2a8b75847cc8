package rest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/httpout"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

// handler serves every endpoint; it is built per Run.
type handler struct {
	c      *Connector
	sink   connector.Sink
	sem    chan struct{}
	panics chan error // a handler's panic, to end Run (the supervisor restarts)
}

func (h *handler) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range h.c.plan.routes {
		mux.Handle(r.pattern, h.route(r))
	}
	return mux
}

func (h *handler) route(r *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := h.c
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				select {
				case h.panics <- &kit.PanicError{Goroutine: "rest handler " + r.path, Value: v, Stack: debug.Stack()}:
				default:
				}
				panic(http.ErrAbortHandler) // net/http closes the connection quietly
			}
		}()
		c.requests.Add(1)
		select {
		case h.sem <- struct{}{}:
			defer func() { <-h.sem }()
		default:
			c.busy.Add(1)
			w.Header().Set("Retry-After", "1")
			h.reply(w, r, http.StatusServiceUnavailable, nil)
			return
		}
		if r.basic {
			u, p, ok := req.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.user)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(r.pass)) != 1 {
				c.rejected.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="tbgw"`)
				h.reply(w, r, http.StatusUnauthorized, r.failBody)
				return
			}
		}
		if !r.methods[req.Method] {
			c.rejected.Add(1)
			h.reply(w, r, http.StatusMethodNotAllowed, r.failBody)
			return
		}
		body, err := httpout.ReadLimited(http.MaxBytesReader(w, req.Body, c.plan.maxBody), c.plan.maxBody)
		if err != nil {
			c.rejected.Add(1)
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) || errors.Is(err, httpout.ErrTooLarge) {
				h.reply(w, r, http.StatusRequestEntityTooLarge, r.failBody)
				return
			}
			h.reply(w, r, http.StatusBadRequest, r.failBody)
			return
		}
		c.bytesIn.Add(uint64(len(body)))
		if r.raw {
			h.serveData(w, req, r, [][]byte{body}, body)
			return
		}
		path := map[string]string{}
		for _, p := range r.params {
			path[p] = req.PathValue(p)
		}
		query := map[string]string{}
		for k, v := range req.URL.Query() {
			query[k] = v[0]
		}
		objs, err := requestObjects(req.Method, req.Header.Get("Content-Type"), body, path, query)
		if err != nil {
			c.rejected.Add(1)
			c.log.Debug("rest: bad request body", "endpoint", r.path, "err", err)
			h.reply(w, r, http.StatusBadRequest, r.failBody)
			return
		}
		if len(objs) == 0 {
			c.rejected.Add(1)
			h.reply(w, r, http.StatusUnsupportedMediaType, r.failBody)
			return
		}
		if r.attrReq {
			h.serveAttrRequest(w, req, r, objs[0])
			return
		}
		h.serveData(w, req, r, objs, nil)
	})
}

func (h *handler) reply(w http.ResponseWriter, r *route, status int, body []byte) {
	if body != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// serveData converts the request, hands the data to the gateway and
// answers 200 only once Send accepted it; a full storage is 503 with
// Retry-After, never a 200 for dropped data.
func (h *handler) serveData(w http.ResponseWriter, req *http.Request, r *route, objs [][]byte, raw []byte) {
	c := h.c
	now := c.env.Now().UnixMilli()
	var items []connector.Data
	var convErr error
	for _, o := range objs {
		if raw != nil {
			o = raw
		}
		data, err := r.conv.Convert(r.path, o, now)
		items = append(items, data...)
		if err != nil {
			convErr = err
		}
	}
	if convErr != nil {
		c.log.Debug("rest: conversion", "endpoint", r.path, "err", convErr)
	}
	if len(items) == 0 {
		if convErr != nil {
			c.rejected.Add(1)
			h.reply(w, r, http.StatusBadRequest, r.failBody)
			return
		}
		h.reply(w, r, http.StatusOK, r.okBody)
		return
	}
	var wait chan any
	if r.expect {
		for i := range items {
			items[i].Attributes = append(items[i].Attributes, connector.Point{Key: "responseExpected", Value: true})
		}
		wait = c.waiters.add(items[0].Device, r.respAttr)
		defer c.waiters.remove(items[0].Device, r.respAttr, wait)
	}
	if err := h.sink.Send(req.Context(), items); err != nil {
		switch {
		case errors.Is(err, connector.ErrStorageFull), errors.Is(err, connector.ErrStopping):
			c.storageFull.Add(1)
			w.Header().Set("Retry-After", "5")
			h.reply(w, r, http.StatusServiceUnavailable, r.failBody)
		case req.Context().Err() != nil:
			// The client is gone or the connector is stopping: never an
			// empty 200 (net/http's default for a handler that writes
			// nothing).
			w.Header().Set("Retry-After", "5")
			h.reply(w, r, http.StatusServiceUnavailable, r.failBody)
		default:
			c.errors.Add(1)
			c.log.Warn("rest: send", "endpoint", r.path, "err", err)
			h.reply(w, r, http.StatusInternalServerError, r.failBody)
		}
		return
	}
	c.messages.Add(1)
	if !r.expect {
		h.reply(w, r, http.StatusOK, r.okBody)
		return
	}
	t := newTimer(r.respTimeout)
	defer t.Stop()
	select {
	case v := <-wait:
		h.reply(w, r, http.StatusOK, []byte(tmpl.FormatValue(v)))
	case <-t.C:
		h.reply(w, r, http.StatusRequestTimeout, r.failBody)
	case <-req.Context().Done():
		w.Header().Set("Retry-After", "5")
		h.reply(w, r, http.StatusServiceUnavailable, r.failBody)
	}
}

// serveAttrRequest asks ThingsBoard for the attributes the request names
// and answers with them: {"device":..,"value":..} for one key,
// {"device":..,"values":{..}} for several.
func (h *handler) serveAttrRequest(w http.ResponseWriter, req *http.Request, r *route, obj []byte) {
	c := h.c
	d, err := jpath.Parse(obj)
	if err != nil {
		h.reply(w, r, http.StatusBadRequest, nil)
		return
	}
	name, missing := r.devName.Append(nil, d, d.Root(), tmpl.MissingKeep)
	if missing > 0 || len(name) == 0 {
		c.rejected.Add(1)
		h.reply(w, r, http.StatusBadRequest, []byte("device name not found in the request"))
		return
	}
	var keys []string
	for _, t := range r.attrNames {
		k, missing := t.Append(nil, d, d.Root(), tmpl.MissingKeep)
		if missing == 0 && len(k) > 0 {
			keys = append(keys, string(k))
		}
	}
	if len(keys) == 0 {
		c.rejected.Add(1)
		h.reply(w, r, http.StatusBadRequest, []byte("no attribute names found in the request"))
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.timeout)
	defer cancel()
	vals, err := h.sink.RequestAttributes(ctx, string(name), r.client, keys)
	if err != nil {
		switch {
		case ctx.Err() != nil && req.Context().Err() == nil:
			h.reply(w, r, http.StatusRequestTimeout, nil)
		case errors.Is(err, connector.ErrStopping):
			w.Header().Set("Retry-After", "5")
			h.reply(w, r, http.StatusServiceUnavailable, nil)
		case req.Context().Err() != nil:
			w.Header().Set("Retry-After", "5")
			h.reply(w, r, http.StatusServiceUnavailable, nil)
		default:
			c.errors.Add(1)
			h.reply(w, r, http.StatusBadGateway, []byte(err.Error()))
		}
		return
	}
	out := map[string]any{"device": string(name)}
	if len(keys) == 1 {
		out["value"] = vals[keys[0]]
	} else {
		out["values"] = vals
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.reply(w, r, http.StatusInternalServerError, nil)
		return
	}
	c.messages.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
