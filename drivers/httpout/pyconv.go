package httpout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/tmpl"
)

// An attributeUpdates or serverSideRpc entry may name a downlink converter
// class (upstream: REST "extension", Request "converter"). Upstream's
// connectors construct it with the entry and call convert(entry, content),
// content {"device", "data": {key: value}} for an attribute update and
// {"device", "data": {"id", "method", "params"}} for an RPC, then send the
// entry with the keys the converter returned laid over it: "url" and
// "data" (the body), and here also the method ("HTTPMethod" or
// "httpMethod"). The class runs in the Python extension host
// (docs/connectors/exec.md).

// defaultConverters are upstream's built-in downlink converters, which
// the entry's templates already are.
var defaultConverters = map[string]bool{"JsonRESTDownlinkConverter": true, "JsonRequestDownlinkConverter": true}

// converter loads the entry's converter class, if it names one.
func (c *Call) converter(s *Spec, o Options) error {
	name, key := s.Extension, "extension"
	if o.Converter == "request-downlink" {
		name, key = s.Converter, "converter"
	}
	if o.Converter == "" || name == "" || defaultConverters[name] {
		return nil
	}
	entry := s.Raw
	if len(entry) == 0 {
		var err error
		if entry, err = json.Marshal(s); err != nil {
			return &Error{key, err.Error()}
		}
	}
	conv, err := codec.NewCallDownlink(o.Converter, name, entry)
	if err != nil {
		if errors.Is(err, codec.ErrNoResolver) && o.Warn != nil {
			o.Warn(key, fmt.Sprintf("converter %q is not compiled in and no Python extension host is installed; the entry's templates are used", name))
			return nil
		}
		if errors.Is(err, codec.ErrNoResolver) {
			err = fmt.Errorf("%w (a converter class is Python code: it needs python3 and tbgw's extensions/tbgw_host.py installed)", err)
		}
		return &Error{key, err.Error()}
	}
	c.conv, c.entry = conv, entry
	return nil
}

// Converted reports whether the entry's requests come from a converter
// class.
func (c *Call) Converted() bool { return c.conv != nil }

// doConverted asks the converter class for the request and sends it.
func (c *Call) doConverted(ctx context.Context, v *tmpl.Vars) (*Result, error) {
	data := map[string]any{v.Key: v.Value}
	if v.Method != "" {
		var params any
		if len(v.Params) > 0 {
			if err := json.Unmarshal(v.Params, &params); err != nil {
				params = string(v.Params)
			}
		}
		var id any = v.RequestID
		if n, err := strconv.ParseInt(v.RequestID, 10, 64); err == nil {
			id = n
		}
		data = map[string]any{"id": id, "method": v.Method, "params": params}
	}
	args, err := json.Marshal(map[string]any{"config": c.entry, "data": map[string]any{"device": v.Device, "data": data}})
	if err != nil {
		return nil, err
	}
	raw, err := c.conv.ConvertDownCall(args)
	if err != nil {
		return nil, err
	}
	method, u, body, err := converted(raw)
	if err != nil {
		return nil, fmt.Errorf("downlink converter result: %w", err)
	}
	if method == "" {
		method = c.method
	}
	if u, err = c.join(u); err != nil {
		return nil, err
	}
	return c.send(ctx, method, u, body)
}

// converted reads a converter's result: {"url", "data"[, "HTTPMethod" |
// "httpMethod"]}; data other than a string is sent as JSON.
func converted(raw json.RawMessage) (method, u, body string, err error) {
	var r map[string]json.RawMessage
	if err := json.Unmarshal(raw, &r); err != nil || r == nil {
		return "", "", "", fmt.Errorf("want an object with url and data, got %.200s", raw)
	}
	if err := json.Unmarshal(r["url"], &u); err != nil || u == "" {
		return "", "", "", fmt.Errorf("no url in %.200s", raw)
	}
	if d, ok := r["data"]; ok && string(d) != "null" {
		if json.Unmarshal(d, &body) != nil {
			body = string(d)
		}
	}
	for _, k := range []string{"HTTPMethod", "httpMethod"} {
		if m, ok := r[k]; ok && method == "" {
			_ = json.Unmarshal(m, &method)
			method = strings.ToUpper(strings.TrimSpace(method))
		}
	}
	switch method {
	case "", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
	default:
		return "", "", "", fmt.Errorf("unknown method %q", method)
	}
	return method, u, body, nil
}

// AttachRaw sets the Raw of each spec from the entries as written, raws in
// the same order; a list of another length (not the decoded one) is left
// alone.
func AttachRaw(specs []Spec, raws []json.RawMessage) {
	if len(specs) != len(raws) {
		return
	}
	for i := range specs {
		specs[i].Raw = raws[i]
	}
}
