package opcua

import (
	"context"
	"errors"
	"strings"

	"github.com/gopcua/opcua/ua"

	"github.com/tbgw/tbgw/codec"
)

// device is one ThingsBoard device found by a mapping: its node, name,
// profile and resolved datapoints.
type device struct {
	name    string
	profile string
	node    *ua.NodeID
	m       *mapping
	points  []*boundPoint    // resolved datapoints
	consts  []*pointSpec     // constant datapoints
	missing int              // datapoints whose node was not found
	pyconv  codec.CallUplink // the mapping's Python converter for this device, nil for the built-in conversion
}

// boundPoint is a datapoint with its node.
type boundPoint struct {
	dev  *device
	spec *pointSpec
	node *ua.NodeID
}

// scan finds every mapping's devices and resolves their datapoints.
// complete is false when something was not found (a later scan retries).
// Errors other than "not found" (the session failing) are returned.
func (c *Connector) scan(ctx context.Context, s *session, loud bool) (devs []*device, complete bool, err error) {
	s.clearCache()
	complete = true
	seen := map[string]bool{}
	logf := c.log.Debug
	if loud {
		logf = c.log.Warn
	}
	for _, m := range c.cfg.mappings {
		bases, err := s.resolve(ctx, m.pattern, nil, true)
		if err != nil {
			if !errors.Is(err, errNotFound) && ctx.Err() == nil && !isBadNodeStatus(err) {
				return nil, false, err
			}
			logf("no device node for mapping", "mapping", m.index, "pattern", m.pattern.String(), "err", err)
			complete = false
			continue
		}
		for _, base := range bases {
			name, okName := c.expand(ctx, s, m.nameExpr, base)
			profile, _ := c.expand(ctx, s, m.profileExpr, base)
			if !okName {
				complete = false
			}
			if seen[name] {
				logf("two device nodes give the same device name; keeping the first", "device", name, "node", base.String())
				continue
			}
			seen[name] = true
			d := &device{name: name, profile: profile, node: base, m: m}
			if m.py != nil {
				pc, perr := m.py.converter(name, profile)
				if perr != nil {
					c.log.Error("device skipped: its converter does not load", "device", name, "err", perr)
					complete = false
					continue
				}
				d.pyconv = pc
			}
			for _, p := range m.points {
				if p.ref.kind == refConstant {
					d.consts = append(d.consts, p)
					continue
				}
				node, err := s.resolveOne(ctx, p.ref, base)
				if err != nil {
					if !errors.Is(err, errNotFound) && ctx.Err() == nil && !isBadNodeStatus(err) {
						return nil, false, err
					}
					logf("datapoint node not found", "device", name, "key", p.key, "path", p.ref.String(), "err", err)
					d.missing++
					complete = false
					continue
				}
				d.points = append(d.points, &boundPoint{dev: d, spec: p, node: node})
			}
			if c.cfg.showMap {
				c.log.Info("device", "device", name, "profile", profile, "node", base.String(), "datapoints", len(d.points), "missing", d.missing)
			}
			devs = append(devs, d)
		}
	}
	return devs, complete, ctx.Err()
}

// isBadNodeStatus tells errors about one node (bad node id, no such node)
// from errors about the session.
func isBadNodeStatus(err error) bool {
	var sc ua.StatusCode
	if !errors.As(err, &sc) {
		return false
	}
	switch sc {
	case ua.StatusBadNodeIDUnknown, ua.StatusBadNodeIDInvalid, ua.StatusBadNoMatch,
		ua.StatusBadAttributeIDInvalid, ua.StatusBadNotReadable, ua.StatusBadUserAccessDenied,
		ua.StatusBadBrowseNameInvalid, ua.StatusBadNotFound:
		return true
	}
	return false
}

// expand substitutes ${…} placeholders of a device name or profile
// expression with node values: a node id, an absolute path or a path
// relative to the device node. An unresolved placeholder stays as written
// (ok is then false).
func (c *Connector) expand(ctx context.Context, s *session, expr string, base *ua.NodeID) (string, bool) {
	if !strings.Contains(expr, "${") {
		return expr, true
	}
	ok := true
	out := placeholder().ReplaceAllStringFunc(expr, func(m string) string {
		inner := m[2 : len(m)-1]
		r, err := parseTarget(inner)
		if err != nil {
			ok = false
			return m
		}
		node, err := s.resolveOne(ctx, r, base)
		if err != nil {
			c.log.Debug("name placeholder not resolved", "placeholder", m, "err", err)
			ok = false
			return m
		}
		v, err := s.readValue(ctx, node)
		if err != nil || v == nil {
			c.log.Debug("name placeholder not readable", "placeholder", m, "err", err)
			ok = false
			return m
		}
		return pyString(v)
	})
	return out, ok
}
