package socket

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tbgw/tbgw/codec/field"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

// attrRequestTimeout bounds the wait for ThingsBoard's answer to a
// device's attribute request (the connection's reading waits meanwhile).
const attrRequestTimeout = 10 * time.Second

type handler struct {
	c      *Connector
	sink   connector.Sink
	sender *kit.Sender
}

// handle routes one message from the peer at from ("ip:port") to every
// device whose address pattern matches: an attribute request is answered
// on the same connection, anything else is converted and sent.
func (h *handler) handle(ctx context.Context, msg []byte, from string) {
	h.send(ctx, h.collect(ctx, msg, from, nil))
}

// send hands converted messages to the gateway.
func (h *handler) send(ctx context.Context, out []connector.Data) {
	if len(out) == 0 {
		return
	}
	if err := h.sender.Send(ctx, out); err != nil && ctx.Err() == nil {
		h.c.log.Warn("socket: send", "err", err)
	}
}

// collect converts one message, answering attribute requests, and appends
// the data to out.
func (h *handler) collect(ctx context.Context, msg []byte, from string, out []connector.Data) []connector.Data {
	c := h.c
	n := len(out)
	for _, d := range c.plan.devices {
		if from != d.pattern && !d.addr.FullMatch(from) {
			continue
		}
		c.mu.Lock()
		c.peers[d] = from
		c.mu.Unlock()
		if ar := d.attrRequest(msg); ar != nil {
			h.attributeRequest(ctx, d, ar, msg, from)
			continue
		}
		data, err := d.convert(msg, c.env.Now().UnixMilli())
		if err != nil {
			c.convErrors.Add(1)
			c.log.Warn("socket: conversion", "device", d.name, "err", err)
		}
		out = append(out, data...)
	}
	if len(out) > n {
		c.messages.Add(1)
	}
	return out
}

func (d *device) attrRequest(msg []byte) *attrReq {
	for i := range d.attrReqs {
		a := &d.attrReqs[i]
		if sel, ok := a.match.Select(msg); ok && string(sel) == a.equal {
			return a
		}
	}
	return nil
}

// convert decodes the configured byte slices of msg as upstream's bytes
// converter does: NUL bytes dropped, then the device's encoding ("hex"
// gives lowercase hex digits).
func (d *device) convert(msg []byte, nowMs int64) ([]connector.Data, error) {
	if d.conv != nil {
		return d.conv.Convert(d.pattern, msg, nowMs)
	}
	data := connector.Data{Device: d.name, Type: d.typ}
	for _, p := range d.points {
		sel, _ := p.sel.Select(msg)
		v := decode(sel, d.enc)
		if p.attr {
			data.Attributes = append(data.Attributes, connector.Point{Key: p.key, Value: v, Report: p.report})
		} else {
			data.Telemetry = append(data.Telemetry, connector.Point{Key: p.key, Value: v, TS: nowMs, Report: p.report})
		}
	}
	if len(data.Attributes) == 0 && len(data.Telemetry) == 0 {
		return nil, nil
	}
	return []connector.Data{data}, nil
}

func decode(b []byte, enc string) string {
	if enc == "hex" {
		return hex.EncodeToString(b)
	}
	clean := make([]byte, 0, len(b))
	for _, x := range b {
		if x != 0 {
			clean = append(clean, x)
		}
	}
	if enc == "utf-8" || enc == "utf8" {
		if utf8.Valid(clean) {
			return string(clean)
		}
		return strings.ToValidUTF8(string(clean), "\uFFFD")
	}
	v, err := field.Field{Type: field.String, Length: -1, Encoding: enc}.Decode(clean)
	if s, ok := v.(string); err == nil && ok {
		return s
	}
	return strings.ToValidUTF8(string(clean), "\uFFFD")
}

// attributeRequest asks ThingsBoard for the attributes named by the
// request's byte slices and writes the answer back to the peer as JSON:
// the value for one name, an object for several.
func (h *handler) attributeRequest(ctx context.Context, d *device, a *attrReq, msg []byte, from string) {
	c := h.c
	var keys []string
	for _, s := range a.names {
		sel, ok := s.Select(msg)
		if !ok || len(sel) == 0 {
			c.log.Warn("socket: attribute request without a name", "device", d.name)
			return
		}
		keys = append(keys, decode(sel, "utf-8"))
	}
	rctx, cancel := context.WithTimeout(ctx, attrRequestTimeout)
	defer cancel()
	vals, err := h.sink.RequestAttributes(rctx, d.name, a.client, keys)
	if err != nil {
		c.log.Warn("socket: attribute request", "device", d.name, "keys", keys, "err", err)
		return
	}
	var v any = vals
	if len(keys) == 1 {
		v = vals[keys[0]]
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	if err := c.write(ctx, from, b); err != nil {
		c.log.Warn("socket: attribute response", "device", d.name, "err", err)
	}
}

// encode renders a value for the device: text as it is, other values as
// JSON; then "hex" decodes hex digits, other encodings encode the text.
func encode(v any, enc string) ([]byte, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			text = s
		} else {
			text = string(x)
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	if enc == "hex" {
		b, err := hex.DecodeString(strings.TrimPrefix(strings.ReplaceAll(text, " ", ""), "0x"))
		if err != nil {
			return nil, fmt.Errorf("value %q is not hex: %w", text, err)
		}
		return b, nil
	}
	return field.EncodeString(text, enc, false)
}
