package ftp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/codec/value"
	"github.com/tbgw/tbgw/gw/connector"
)

var errStopped = errors.New("ftp connector is not running")

// maxRead bounds what an RPC read returns.
const maxRead = 1 << 20

// withSession runs fn on a control connection of its own, so downlink
// never waits for a poll in progress.
func (c *Connector) withSession(ctx context.Context, fn func(s *session) error) error {
	if !c.running.Load() {
		return errStopped
	}
	s, err := dial(ctx, &c.plan.srv)
	if err != nil {
		return err
	}
	defer s.close()
	return fn(s)
}

// OnAttributes writes shared attribute updates to files: for every rule
// whose deviceNameFilter matches, valueExpression is rendered with
// ${attributeKey} and ${attributeValue} and written to the rule's path
// (also a template; a pattern writes every matching file). JSON files are
// replaced by the value, which must be JSON once single quotes are turned
// into double quotes; other files get the value appended as a line
// (WRITE) or are replaced by it (OVERRIDE).
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type write struct {
		path, data string
		append     bool
	}
	var writes []write
	for _, u := range c.plan.attrUpdates {
		if !u.devices.FullMatch(device) {
			continue
		}
		for _, k := range keys {
			v := value.Text(values[k])
			r := strings.NewReplacer("${attributeKey}", k, "${attributeValue}", v, "${deviceName}", device)
			writes = append(writes, write{path: r.Replace(u.path), data: r.Replace(u.value), append: u.append})
		}
	}
	if len(writes) == 0 {
		c.log.Debug("ftp: no attributeUpdates rule for device", "device", device)
		return nil
	}
	return c.withSession(ctx, func(s *session) error {
		for _, w := range writes {
			targets := []string{w.path}
			if hasMeta(w.path) {
				files, err := s.find(w.path, func(string) bool { return true })
				if err != nil {
					return err
				}
				targets = targets[:0]
				for _, f := range files {
					targets = append(targets, f.path)
				}
			}
			for _, t := range targets {
				if err := writeFile(s, t, w.data, w.append); err != nil {
					return fmt.Errorf("device %s: write %s: %w", device, t, err)
				}
			}
		}
		return nil
	})
}

// writeFile writes data to p as described for OnAttributes.
func writeFile(s *session, p, data string, appendLine bool) error {
	if fileKind(p) == "json" {
		j := strings.ReplaceAll(data, "'", `"`)
		if !json.Valid([]byte(j)) {
			return fmt.Errorf("value is not JSON: %q", j)
		}
		return s.store(p, []byte(j))
	}
	if appendLine {
		return s.appendTo(p, []byte(data+"\n"))
	}
	return s.store(p, []byte(data))
}

// OnRPC serves "read" and "write" RPCs: connector RPCs (ftp_read,
// ftp_write with {"valueExpression": "<path>" or "<path>;<value>"}), the
// reserved get/set ("filePath=<path>;" and "filePath=<path>;value=<v>;")
// and device RPCs matched by serverSideRpc rules, whose valueExpression
// (usually ${params}) renders to the path or "path;value". Read returns
// the file's content (at most 1 MiB); write replaces the file.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	method := req.Method
	var expr string
	switch {
	case req.Device == "":
		var p struct {
			ValueExpression *string `json:"valueExpression"`
		}
		if err := json.Unmarshal(req.Params, &p); err != nil || p.ValueExpression == nil {
			return nil, fmt.Errorf(`params must be {"valueExpression": "<path>[;<value>]"}`)
		}
		expr = *p.ValueExpression
	case method == "get" || method == "set":
		kv := parseParams(paramString(req.Params))
		path := kv["filePath"]
		if path == "" {
			return nil, fmt.Errorf("params need filePath=<path>;")
		}
		expr, method = path, "read"
		if req.Method == "set" {
			v, ok := kv["value"]
			if !ok {
				return nil, fmt.Errorf("params need value=<value>;")
			}
			expr, method = path+";"+v, "write"
		}
	default:
		var rule *rpcRule
		for _, r := range c.plan.rpcs {
			if r.devices.FullMatch(req.Device) && r.methods.FullMatch(method) {
				rule = r
				break
			}
		}
		if rule == nil {
			return nil, fmt.Errorf("no serverSideRpc rule for method %q of device %q", method, req.Device)
		}
		t, err := tmpl.Compile(rule.value)
		if err != nil {
			return nil, err
		}
		expr = t.Topic(&tmpl.Vars{Device: req.Device, Method: req.Method, Params: req.Params})
	}
	switch method {
	case "read":
		path := strings.TrimSpace(strings.ReplaceAll(expr, "'", ""))
		var content []byte
		err := c.withSession(ctx, func(s *session) error {
			var err error
			content, err = s.readAll(path, maxRead)
			return err
		})
		if err != nil {
			return nil, err
		}
		return map[string]any{"result": string(content)}, nil
	case "write":
		path, v, ok := strings.Cut(strings.ReplaceAll(expr, "'", ""), ";")
		if !ok || strings.TrimSpace(path) == "" {
			return nil, fmt.Errorf("write needs \"<path>;<value>\", got %q", expr)
		}
		path = strings.TrimSpace(path)
		err := c.withSession(ctx, func(s *session) error { return s.store(path, []byte(v)) })
		if err != nil {
			return nil, err
		}
		if len(v) < 80 {
			return map[string]any{"result": map[string]any{"value": v}}, nil
		}
		return map[string]any{"result": true}, nil
	}
	return nil, fmt.Errorf("unknown method %q: want read or write", method)
}

// paramString returns params as text: a JSON string unquoted, anything
// else as written.
func paramString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// parseParams reads "key=value;key=value;" (values may contain '=').
func parseParams(s string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if k = strings.TrimSpace(k); ok && k != "" {
			m[k] = v
		}
	}
	return m
}
