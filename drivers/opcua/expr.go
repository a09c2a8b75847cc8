package opcua

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gopcua/opcua/ua"
)

// A ref names a node the way the configuration does: a node id, a browse
// path from the Root folder, a browse path relative to the device node, or
// no node at all (a constant).
type ref struct {
	kind refKind
	id   *ua.NodeID
	segs []segment
	text string // the constant, or the source text for messages
}

type refKind uint8

const (
	refConstant refKind = iota
	refNodeID
	refAbsolute
	refRelative
)

// segment is one browse name of a path: "Name" (any namespace) or "ns:Name".
type segment struct {
	ns   int // -1: any namespace
	name string
	// re matches the name as a regular expression (whole name), for
	// configurations written for upstream before 3.4.4, which matched
	// path segments as regular expressions ("Device\d+", "Line.*"). Used
	// only where no browse name equals the segment as written; nil when
	// the name has no regular-expression syntax or does not compile.
	re *regexp.Regexp
}

// legacyRegexp compiles a segment written as a regular expression.
func legacyRegexp(name string) *regexp.Regexp {
	if !strings.ContainsAny(name, `.*+?[](){}|^$\`) {
		return nil
	}
	re, err := regexp.Compile(`^(?:` + name + `)$`)
	if err != nil {
		return nil
	}
	return re
}

func (s segment) String() string {
	if s.ns < 0 {
		return s.name
	}
	return strconv.Itoa(s.ns) + ":" + s.name
}

func (r ref) String() string {
	switch r.kind {
	case refNodeID:
		return r.id.String()
	case refAbsolute, refRelative:
		parts := make([]string, 0, len(r.segs)+1)
		if r.kind == refAbsolute {
			parts = append(parts, "Root")
		}
		for _, s := range r.segs {
			parts = append(parts, s.String())
		}
		return strings.Join(parts, `\.`)
	}
	return r.text
}

var (
	// nodeIDAnywhere finds a node id in a datapoint value, as upstream does.
	nodeIDAnywhere = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`ns=\d+;[isgb]=[^}]+`) })
	// nodeIDPrefix tells a node id from a browse path.
	nodeIDPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(ns=[^;]*;)?[isgb]=`) })
	placeholder  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })
)

// parseNodeID parses "ns=<n>;<i|s|g|b>=<id>" (or the same without ns).
func parseNodeID(s string) (*ua.NodeID, error) {
	id, err := ua.ParseNodeID(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("bad node id %q: %v", s, err)
	}
	return id, nil
}

// parseValueRef parses a datapoint "value": a node id anywhere in it, else
// ${Root\.…} (absolute) or ${…} (relative to the device node), else a
// constant.
func parseValueRef(v string) (ref, error) {
	if m := nodeIDAnywhere().FindString(v); m != "" {
		id, err := parseNodeID(m)
		if err != nil {
			return ref{}, err
		}
		return ref{kind: refNodeID, id: id, text: v}, nil
	}
	if m := placeholder().FindStringSubmatch(v); m != nil {
		return parsePath(m[1])
	}
	return ref{kind: refConstant, text: v}, nil
}

// parseDeviceNode parses deviceNodePattern: a node id or an absolute path.
func parseDeviceNode(v string) (ref, error) {
	v = unwrap(v)
	if nodeIDPrefix().MatchString(v) {
		id, err := parseNodeID(v)
		if err != nil {
			return ref{}, err
		}
		return ref{kind: refNodeID, id: id, text: v}, nil
	}
	r, err := parsePath(v)
	if err != nil {
		return ref{}, err
	}
	if r.kind != refAbsolute {
		return ref{}, fmt.Errorf(`%q is neither a node id nor a path from Root (Root\.Objects\.…)`, v)
	}
	return r, nil
}

// parseTarget parses a write or read target (attributes_updates value, RPC
// params): a node id, an absolute path (escaped dots, or plain dots after
// "Root.") or a path relative to the device node; ${…} around it is allowed.
func parseTarget(v string) (ref, error) {
	v = unwrap(strings.TrimSpace(v))
	if v == "" {
		return ref{}, errors.New("empty node reference")
	}
	if nodeIDPrefix().MatchString(v) {
		id, err := parseNodeID(v)
		if err != nil {
			return ref{}, err
		}
		return ref{kind: refNodeID, id: id, text: v}, nil
	}
	if !strings.Contains(v, `\.`) && strings.HasPrefix(strings.ToLower(v), "root.") {
		v = strings.ReplaceAll(v, ".", `\.`)
	}
	return parsePath(v)
}

func unwrap(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") {
		return strings.TrimSpace(v[2 : len(v)-1])
	}
	return v
}

// parsePath splits a browse path on escaped dots. A first segment "Root"
// makes it absolute.
func parsePath(p string) (ref, error) {
	if strings.TrimSpace(p) == "" {
		return ref{}, errors.New("empty path")
	}
	parts := strings.Split(p, `\.`)
	r := ref{kind: refRelative, text: p}
	if strings.EqualFold(strings.TrimSpace(parts[0]), "root") {
		r.kind = refAbsolute
		parts = parts[1:]
	}
	for _, part := range parts {
		if part == "" {
			return ref{}, fmt.Errorf("empty segment in path %q", p)
		}
		r.segs = append(r.segs, parseSegment(part))
	}
	if r.kind == refAbsolute && len(r.segs) == 0 {
		return ref{}, fmt.Errorf("path %q names the Root folder itself", p)
	}
	return r, nil
}

func parseSegment(s string) segment {
	if i := strings.IndexByte(s, ':'); i > 0 {
		if ns, err := strconv.Atoi(s[:i]); err == nil && ns >= 0 && ns <= 0xffff {
			return segment{ns: ns, name: s[i+1:], re: legacyRegexp(s[i+1:])}
		}
	}
	return segment{ns: -1, name: s, re: legacyRegexp(s)}
}

// setSeparators are tried in order on a reserved "set" params string.
var setSeparators = []string{"; ", ";=", "=", " "}

var setNodeID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`ns=\d+;[isgb]=[^;\s}]+`) })

// parseSetParams splits the params of a reserved "set" RPC into target and
// value: "<node id or path><sep><value>" with sep one of "; ", ";=", "=",
// " " (first one present wins). Trailing ";" and blanks are dropped.
func parseSetParams(params string) (target, value string, ok bool) {
	sep := ""
	for _, s := range setSeparators {
		if strings.Contains(params, s) {
			sep = s
			break
		}
	}
	if loc := setNodeID().FindStringIndex(params); loc != nil && isNodeIDEnd(params, loc[1]) {
		target = params[loc[0]:loc[1]]
		rest := params[loc[1]:]
		if sep != "" {
			parts := strings.Split(rest, sep)
			rest = parts[len(parts)-1]
		}
		value = strings.Trim(strings.TrimRight(rest, "; \t\r\n"), " ;")
		return target, value, value != ""
	}
	if sep == "" {
		return "", "", false
	}
	var parts []string
	for _, p := range strings.Split(params, sep) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) != 2 {
		return "", "", false
	}
	value = strings.TrimRight(parts[1], "; \t\r\n")
	return parts[0], value, value != ""
}

func isNodeIDEnd(s string, i int) bool {
	return i == len(s) || s[i] == ';' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'
}
