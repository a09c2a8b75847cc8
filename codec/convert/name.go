package convert

import (
	"strings"
	"sync"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// Source says where a device name or profile comes from.
type Source uint8

// Sources of deviceInfo expressions.
const (
	FromMessage  Source = iota // template over the payload ("message", "request", "expression")
	FromConstant               // literal text (placeholders still resolved, as upstream)
	FromTopic                  // regular expression searched in the topic
)

// ParseSource maps an upstream ...ExpressionSource value. "" is message.
func ParseSource(s string) (Source, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "message", "request", "expression":
		return FromMessage, true
	case "constant", "const":
		return FromConstant, true
	case "topic":
		return FromTopic, true
	}
	return 0, false
}

// Name is a compiled device name or profile expression.
type Name struct {
	src  Source
	text string
	t    *tmpl.Template
	re   *pyre.Regex

	// Topic results, since a connector sees the same topics over and
	// over and a look-around regex costs microseconds.
	mu    sync.Mutex
	cache map[string]string
}

// topicCacheSize bounds the topic cache of one Name; it is emptied when
// full.
const topicCacheSize = 512

// CompileName compiles expr read from source src.
func CompileName(src Source, expr string) (*Name, error) {
	n := &Name{src: src, text: expr}
	if src == FromTopic {
		re, err := pyre.Compile(expr)
		if err != nil {
			return nil, err
		}
		n.re = re
		return n, nil
	}
	t, err := tmpl.Compile(expr)
	if err != nil {
		return nil, err
	}
	n.t = t
	return n, nil
}

// String returns the expression as configured.
func (n *Name) String() string { return n.text }

// IsConst reports whether the name does not depend on the message.
func (n *Name) IsConst() bool { return n.re == nil && n.t.IsConst() }

// Topic resolves a topic expression the way upstream converters do: the
// last capturing group of the first match, else the whole match; when the
// pattern does not match, the expression text itself. Other sources return
// their constant text.
func (n *Name) Topic(topic string) string {
	if n.re == nil {
		return n.text
	}
	n.mu.Lock()
	s, ok := n.cache[topic]
	n.mu.Unlock()
	if ok {
		return s
	}
	if s, ok = n.re.FindGroup(topic); !ok {
		s = n.text
	}
	n.mu.Lock()
	if n.cache == nil || len(n.cache) >= topicCacheSize {
		n.cache = make(map[string]string)
	}
	n.cache[topic] = s
	n.mu.Unlock()
	return s
}

// TopicMatch is Topic for MQTT connect/disconnect/attribute requests: the
// whole match, and ok false when the pattern does not match.
func (n *Name) TopicMatch(topic string) (string, bool) {
	if n.re == nil {
		return n.text, true
	}
	return n.re.Find(topic)
}

// Eval resolves the name for one message: topic expressions against the
// topic, templates against the JSON document (unresolved placeholders stay
// as written, as upstream).
func (n *Name) Eval(topic string, d *jpath.Doc, root jpath.Node) string {
	if n.re != nil {
		return n.Topic(topic)
	}
	if n.t.IsConst() {
		return n.text
	}
	if n.t.Single() {
		v := n.t.Lookup(d, root)
		switch d.Kind(v) {
		case jpath.String:
			return d.Str(v)
		case jpath.Invalid, jpath.Null:
			return n.text
		}
	}
	var buf [64]byte
	b, _ := n.t.Append(buf[:0], d, root, tmpl.MissingKeep)
	return string(b)
}

// Template returns the compiled template of a non-topic expression.
func (n *Name) Template() *tmpl.Template { return n.t }

// Names holds the compiled device name and profile of a converter.
type Names struct {
	Name    *Name
	Profile *Name // nil: "default"
}

// CompileNames reads the new-style deviceInfo block or the legacy keys
// (deviceNameJsonExpression, deviceNameTopicExpression,
// deviceNameExpression and their Type counterparts). A device name is
// required.
func CompileNames(cfg *Config) (*Names, error) {
	var ns Names
	var err error
	if di := cfg.DeviceInfo; di != nil && di.DeviceNameExpression != "" {
		src, ok := ParseSource(di.DeviceNameExpressionSource)
		if !ok {
			return nil, errf("deviceInfo.deviceNameExpressionSource", "unknown source %q (want message, topic or constant)", di.DeviceNameExpressionSource)
		}
		if ns.Name, err = CompileName(src, di.DeviceNameExpression); err != nil {
			return nil, errf("deviceInfo.deviceNameExpression", "%v", err)
		}
		if di.DeviceProfileExpression != "" {
			src, ok := ParseSource(di.DeviceProfileExpressionSource)
			if !ok {
				return nil, errf("deviceInfo.deviceProfileExpressionSource", "unknown source %q (want message, topic or constant)", di.DeviceProfileExpressionSource)
			}
			if ns.Profile, err = CompileName(src, di.DeviceProfileExpression); err != nil {
				return nil, errf("deviceInfo.deviceProfileExpression", "%v", err)
			}
		}
	} else {
		legacy := []struct {
			path, expr string
			src        Source
		}{
			{"deviceNameJsonExpression", cfg.DeviceNameJSONExpression, FromMessage},
			{"deviceNameTopicExpression", cfg.DeviceNameTopicExpression, FromTopic},
			{"deviceNameExpression", cfg.DeviceNameExpression, FromMessage},
		}
		for _, l := range legacy {
			if l.expr == "" {
				continue
			}
			if ns.Name, err = CompileName(l.src, l.expr); err != nil {
				return nil, errf(l.path, "%v", err)
			}
			break
		}
		if ns.Name == nil {
			return nil, errf("deviceInfo.deviceNameExpression", "required")
		}
	}
	if ns.Profile == nil {
		legacy := []struct {
			path, expr string
			src        Source
		}{
			{"deviceTypeJsonExpression", cfg.DeviceTypeJSONExpression, FromMessage},
			{"deviceTypeTopicExpression", cfg.DeviceTypeTopicExpression, FromTopic},
			{"deviceTypeExpression", cfg.DeviceTypeExpression, FromMessage},
		}
		for _, l := range legacy {
			if l.expr == "" {
				continue
			}
			if ns.Profile, err = CompileName(l.src, l.expr); err != nil {
				return nil, errf(l.path, "%v", err)
			}
			break
		}
	}
	return &ns, nil
}

// Eval resolves name and profile for one message ("" profile: default).
func (ns *Names) Eval(topic string, d *jpath.Doc, root jpath.Node) (name, profile string) {
	name = ns.Name.Eval(topic, d, root)
	if ns.Profile != nil {
		profile = ns.Profile.Eval(topic, d, root)
	}
	return name, profile
}
