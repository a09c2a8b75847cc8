package ocpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tbgw/tbgw/codec/ocpp"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/gw/connector"
)

func (c *Connector) session(device string) (*session, error) {
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	if !running {
		return nil, errors.New("ocpp connector is not running")
	}
	s := c.device(device)
	if s == nil {
		return nil, fmt.Errorf("charge point %q is not connected", device)
	}
	return s, nil
}

// OnAttributes sends a DataTransfer for each attributeUpdates entry whose
// attributeOnThingsBoard is an updated key.
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	s, err := c.session(device)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, u := range s.cp.attrUpd {
		for _, k := range keys {
			if k != u.key {
				continue
			}
			data := u.value.Payload(&tmpl.Vars{Device: device, Key: k, Value: values[k]})
			res, err := s.call(ctx, "DataTransfer", dataTransfer(u.vendorID, u.messageID, data))
			if err == nil {
				err = checkStatus(res)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("device %s: attribute %s: %w", device, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

func dataTransfer(vendorID, messageID, data string) []byte {
	m := map[string]any{"vendorId": vendorID, "data": data}
	if messageID != "" {
		m["messageId"] = messageID
	}
	b, _ := json.Marshal(m)
	return b
}

// checkStatus turns a DataTransfer answer other than Accepted into an
// error.
func checkStatus(res []byte) error {
	var r struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(res, &r)
	if r.Status != "" && r.Status != "Accepted" {
		return fmt.Errorf("charge point answered %s", r.Status)
	}
	return nil
}

// OnRPC serves, in this order: a serverSideRpc entry named by the method
// (a DataTransfer, as upstream); the reserved get/set; a call of the OCPP
// version the charger speaks (RemoteStartTransaction, Reset,
// ChangeConfiguration, SetVariables, TriggerMessage, ...) whose params are
// the call's payload.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Device == "" {
		return nil, fmt.Errorf("ocpp: method %s needs a charge point device", req.Method)
	}
	s, err := c.session(req.Device)
	if err != nil {
		return nil, err
	}
	if r, ok := s.cp.rpcs[req.Method]; ok {
		data := r.value.Payload(&tmpl.Vars{Device: req.Device, Method: req.Method, Params: req.Params,
			RequestID: fmt.Sprint(req.ID)})
		res, err := s.call(ctx, "DataTransfer", dataTransfer(r.vendorID, r.messageID, data))
		if err != nil {
			return nil, err
		}
		if !r.withResponse {
			return map[string]any{"success": true}, nil
		}
		return map[string]any{"result": json.RawMessage(res)}, nil
	}
	switch req.Method {
	case "set", "get":
		return s.reserved(ctx, req)
	}
	if ocpp.CSMSAction(s.proto, req.Method) {
		payload := []byte(req.Params)
		if p := strings.TrimSpace(string(payload)); p == "" || p == "null" {
			payload = []byte(`{}`)
		} else if p[0] != '{' {
			return nil, fmt.Errorf("%s: params must be the JSON object of the OCPP call", req.Method)
		}
		res, err := s.call(ctx, req.Method, payload)
		if err != nil {
			return nil, err
		}
		return map[string]any{"result": json.RawMessage(res)}, nil
	}
	return nil, fmt.Errorf("method %s: no serverSideRpc entry and not an OCPP %s call", req.Method, s.proto)
}

// reserved serves "set" (a DataTransfer of value, as upstream) and "get"
// (GetConfiguration of key in 1.6; GetVariables of component/variable in
// 2.0.1) with key=value; params.
func (s *session) reserved(ctx context.Context, req connector.RPC) (any, error) {
	var ps string
	if err := json.Unmarshal(req.Params, &ps); err != nil {
		return nil, fmt.Errorf("%s: params must be a string of key=value; pairs", req.Method)
	}
	p := parseParams(ps)
	var action string
	var payload []byte
	if req.Method == "set" {
		v, ok := p["value"]
		if !ok {
			return nil, errors.New("set: value=...; is required")
		}
		action, payload = "DataTransfer", dataTransfer(def(p["vendorId"], "1"), p["messageId"], v)
	} else if s.proto == ocpp.V16 {
		action = "GetConfiguration"
		m := map[string]any{}
		if k, ok := p["key"]; ok {
			m["key"] = strings.Split(k, ",")
		}
		payload, _ = json.Marshal(m)
	} else {
		comp, v := p["component"], p["variable"]
		if comp == "" || v == "" {
			return nil, errors.New("get: component=...;variable=...; are required on OCPP 2.0.1")
		}
		action = "GetVariables"
		payload, _ = json.Marshal(map[string]any{"getVariableData": []any{map[string]any{
			"component": map[string]any{"name": comp}, "variable": map[string]any{"name": v}}}})
	}
	res, err := s.call(ctx, action, payload)
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": json.RawMessage(res)}, nil
}

// parseParams reads upstream's "k=v;k=v;" RPC parameter strings; pairs
// without exactly one "=" are ignored, as upstream.
func parseParams(s string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.Contains(v, "=") || k == "" || v == "" {
			continue
		}
		m[strings.TrimSpace(k)] = v
	}
	return m
}
