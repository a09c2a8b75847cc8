package mqtt

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// attrRequestTimeout bounds one attribute request to ThingsBoard.
const attrRequestTimeout = 30 * time.Second

func (r *runState) isRequest(topic string) bool {
	p := r.c.plan
	for _, l := range [][]*deviceRequest{p.connects, p.disconnects} {
		for _, d := range l {
			if d.filter.match(topic) {
				return true
			}
		}
	}
	for _, a := range p.attrReqs {
		if a.filter.match(topic) {
			return true
		}
	}
	return false
}

// requestLoop serves connect, disconnect and attribute requests one at a
// time; attribute requests wait for ThingsBoard in their own goroutines
// (at most cap(attrSem) at once).
func (r *runState) requestLoop() {
	var pending sync.WaitGroup
	defer pending.Wait()
	doc := new(jpath.Doc)
	for {
		var m inbound
		select {
		case m = <-r.requests:
		case <-r.stopping:
			return
		}
		var d *jpath.Doc
		if doc.Reset(m.payload) == nil {
			d = doc
		}
		if r.handleConnect(&m, d) || r.handleDisconnect(&m, d) {
			continue
		}
		r.handleAttrRequest(&m, d, &pending)
	}
}

func (r *runState) handleConnect(m *inbound, doc *jpath.Doc) bool {
	handled := false
	for _, h := range r.c.plan.connects {
		if !h.filter.match(m.topic) {
			continue
		}
		handled = true
		name, ok := h.name.eval(m.topic, doc)
		if !ok {
			r.c.log.Error("connect request without a device name", "topic", m.topic)
			continue
		}
		typ := h.deviceType(m.topic, doc)
		if err := r.sink.Connect(r.ctx, name, typ); err != nil {
			r.c.log.Error("cannot connect device", "device", name, "err", err)
			continue
		}
		r.c.log.Info("device connected", "device", name, "type", typ)
	}
	return handled
}

func (r *runState) handleDisconnect(m *inbound, doc *jpath.Doc) bool {
	handled := false
	for _, h := range r.c.plan.disconnects {
		if !h.filter.match(m.topic) {
			continue
		}
		handled = true
		name, ok := h.name.eval(m.topic, doc)
		if !ok {
			r.c.log.Error("disconnect request without a device name", "topic", m.topic)
			continue
		}
		if err := r.sink.Disconnect(r.ctx, name); err != nil {
			r.c.log.Error("cannot disconnect device", "device", name, "err", err)
		} else {
			r.c.log.Info("device disconnected", "device", name)
		}
		break
	}
	return handled
}

// deviceType resolves the profile; "" (default) when not configured. A
// topic expression that does not match gives the expression itself, as
// upstream.
func (d *deviceRequest) deviceType(topic string, doc *jpath.Doc) string {
	if d.profile == nil {
		return ""
	}
	if s, ok := d.profile.eval(topic, doc); ok {
		return s
	}
	if d.profile.re != nil {
		return d.profile.re.String()
	}
	return ""
}

func (r *runState) handleAttrRequest(m *inbound, doc *jpath.Doc, g *sync.WaitGroup) {
	for _, h := range r.c.plan.attrReqs {
		if !h.filter.match(m.topic) {
			continue
		}
		name, ok := h.name.eval(m.topic, doc)
		if !ok {
			r.c.log.Error("attribute request without a device name", "topic", m.topic)
			continue
		}
		keys := h.keys(m.topic, doc)
		if len(keys) == 0 {
			r.c.log.Error("attribute request without attribute names", "topic", m.topic, "device", name)
			continue
		}
		client := h.scope == "client"
		if doc != nil && doc.Kind(doc.Root()) == jpath.Object {
			if n := doc.Get(doc.Root(), "scope"); doc.Kind(n) == jpath.String {
				switch strings.ToLower(doc.Str(n)) {
				case "client":
					client = true
				case "shared":
					client = false
				}
			}
		}
		select {
		case r.attrSem <- struct{}{}:
		case <-r.stopping:
			return
		}
		g.Go(func() {
			defer func() { <-r.attrSem }()
			r.answerAttrRequest(h, name, client, keys)
		})
		return
	}
}

// keys returns the requested attribute names.
func (a *attrRequest) keys(topic string, doc *jpath.Doc) []string {
	switch a.keySrc {
	case "constant":
		return a.keyConst
	case "topic":
		if s, ok := a.keyRe.Find(topic); ok && s != "" {
			return []string{s}
		}
		return nil
	}
	if doc == nil {
		return nil
	}
	// One key per placeholder: "${a}, ${b}" asks for two attributes.
	var out []string
	for _, t := range a.keyTmpls {
		b, missing := t.Append(nil, doc, doc.Root(), tmpl.MissingEmpty)
		if missing == 0 && len(b) > 0 {
			out = append(out, string(b))
		}
	}
	return out
}

// answerAttrRequest asks ThingsBoard and publishes the answer to the
// device: valueExpression for one key, a JSON object of all values for
// several.
func (r *runState) answerAttrRequest(h *attrRequest, device string, client bool, keys []string) {
	ctx, cancel := context.WithTimeout(r.ctx, attrRequestTimeout)
	defer cancel()
	vals, err := r.sink.RequestAttributes(ctx, device, client, keys)
	if err != nil {
		r.c.log.Error("attribute request failed", "device", device, "keys", keys, "err", err)
		return
	}
	if len(vals) == 0 {
		r.c.log.Warn("attribute request: no values", "device", device, "keys", keys)
		return
	}
	var payload []byte
	v := &tmpl.Vars{Device: device, Key: strings.Join(keys, ",")}
	if len(keys) == 1 {
		val, ok := vals[keys[0]]
		if !ok {
			r.c.log.Warn("attribute request: no value", "device", device, "key", keys[0])
			return
		}
		b, err := json.Marshal(val)
		if err != nil {
			r.c.log.Error("attribute request: cannot encode value", "device", device, "err", err)
			return
		}
		v.Value = json.RawMessage(b)
		s, _ := h.value.Render(tmpl.MissingKeep, attrAnswerVars(keys[0], b))
		payload = []byte(s)
	} else {
		b, err := json.Marshal(vals)
		if err != nil {
			r.c.log.Error("attribute request: cannot encode values", "device", device, "err", err)
			return
		}
		payload = b
	}
	topic := h.topic.Topic(v)
	if err := r.publish(ctx, topic, h.qos, h.retain, payload); err != nil {
		r.c.log.Error("attribute request: cannot publish answer", "device", device, "topic", topic, "err", err)
		return
	}
	r.c.log.Debug("attribute request answered", "device", device, "topic", topic)
}

// attrAnswerVars renders an attribute-request answer: the value JSON
// encoded (strings quoted), as upstream.
func attrAnswerVars(key string, valueJSON []byte) func(dst []byte, expr string) ([]byte, bool) {
	return func(dst []byte, expr string) ([]byte, bool) {
		switch expr {
		case "attributeKey":
			return append(dst, key...), true
		case "attributeValue":
			return append(dst, valueJSON...), true
		}
		return dst, false
	}
}
