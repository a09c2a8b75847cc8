package ocpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/ocpp"
	"github.com/tbgw/tbgw/gw/connector"
)

// handleCall answers a validated CALL from the charge point. Data the
// configuration maps from the message is in the event storage before the
// answer is returned; when the storage refuses it the charger gets an
// InternalError and keeps the message for a retry.
func (s *session) handleCall(ctx context.Context, action string, payload []byte) ([]byte, ocpp.Kind, string) {
	now := s.c.env.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var res any
	var view []byte // what the converter sees; nil: the payload's View
	v16 := s.proto == ocpp.V16
	switch action {
	case "BootNotification":
		prof, err := bootProfile(s.proto, s.id, payload)
		if err != nil {
			return nil, ocpp.KindFormat, err.Error()
		}
		s.setProfile(ctx, prof, true)
		view, _ = json.Marshal(prof)
		res = map[string]any{"currentTime": now, "interval": s.c.plan.heartbeat, "status": "Accepted"}
	case "Heartbeat":
		res = map[string]any{"currentTime": now}
	case "Authorize":
		if v16 {
			res = map[string]any{"idTagInfo": map[string]any{"status": "Accepted"}}
		} else {
			res = map[string]any{"idTokenInfo": map[string]any{"status": "Accepted"}}
		}
	case "StartTransaction":
		if !v16 {
			return nil, ocpp.KindNotImplemented, action + " is not an OCPP 2.0.1 message"
		}
		res = map[string]any{"transactionId": s.c.txSeq.Add(1), "idTagInfo": map[string]any{"status": "Accepted"}}
	case "StopTransaction":
		if !v16 {
			return nil, ocpp.KindNotImplemented, action + " is not an OCPP 2.0.1 message"
		}
		if hasMember(payload, "idTag") {
			res = map[string]any{"idTagInfo": map[string]any{"status": "Accepted"}}
		} else {
			res = map[string]any{}
		}
	case "TransactionEvent":
		if v16 {
			return nil, ocpp.KindNotImplemented, action + " is not an OCPP 1.6 message"
		}
		if hasMember(payload, "idToken") {
			res = map[string]any{"idTokenInfo": map[string]any{"status": "Accepted"}}
		} else {
			res = map[string]any{}
		}
	case "DataTransfer":
		res = map[string]any{"status": "Accepted"}
	case "StatusNotification", "MeterValues", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
		"NotifyEvent", "SecurityEventNotification", "LogStatusNotification", "NotifyReport":
		if !ocpp.Known(s.proto, action) {
			return nil, ocpp.KindNotImplemented, action + " is not a message of " + s.proto
		}
		res = map[string]any{}
	default:
		return nil, ocpp.KindNotImplemented, "action " + action + " is not supported by this central system"
	}
	if err := s.uplink(ctx, action, payload, view); err != nil {
		s.c.log.Warn("ocpp: data not stored; charge point gets an error", "id", s.id, "action", action, "err", err)
		return nil, ocpp.KindInternal, "data could not be stored: " + err.Error()
	}
	b, _ := json.Marshal(res)
	return b, 0, ""
}

func hasMember(payload []byte, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return false
	}
	_, ok := m[name]
	return ok
}

// bootProfile is what device name and type expressions see: Vendor and
// Model (as upstream), ChargePointId, and every member of the
// BootNotification, also in snake_case (1.6), or of its chargingStation
// object (2.0.1).
func bootProfile(proto, id string, payload []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, err
	}
	prof := map[string]any{"ChargePointId": id}
	add := func(src map[string]any) {
		for k, v := range src {
			prof[k] = v
			prof[ocpp.Snake(k)] = v
		}
	}
	if proto == ocpp.V16 {
		add(m)
		prof["Vendor"], prof["Model"] = m["chargePointVendor"], m["chargePointModel"]
	} else {
		cs, _ := m["chargingStation"].(map[string]any)
		add(cs)
		if r, ok := m["reason"]; ok {
			prof["reason"] = r
		}
		prof["Vendor"], prof["Model"] = cs["vendorName"], cs["model"]
	}
	return prof, nil
}

// setProfile names the device from a profile. boot: it comes from a
// BootNotification just received (stored for later reconnections).
func (s *session) setProfile(ctx context.Context, prof map[string]any, boot bool) {
	b, _ := json.Marshal(prof)
	d, err := jpath.Parse(b)
	if err != nil {
		return
	}
	var name, typ string
	if s.cp.custom != nil {
		// Upstream names the device with the converter's methods.
		if name, typ, err = s.cp.custom.deviceNames(prof); err != nil {
			s.c.log.Warn("ocpp: converter could not name the device; the expressions do", "id", s.id, "converter", s.cp.custom.name, "err", err)
		}
	}
	if name == "" {
		name = strings.TrimSpace(s.cp.name.Eval("", d, d.Root()))
	}
	if typ == "" {
		typ = strings.TrimSpace(s.cp.typ.Eval("", d, d.Root()))
	}
	if name == "" {
		name = s.id
	}
	if typ == "" {
		typ = "default"
	}
	s.nmu.Lock()
	old := s.name
	s.name, s.typ, s.profile = name, typ, prof
	s.nmu.Unlock()
	s.c.bindDevice(s, old, name)
	if boot {
		if err := s.c.profiles.put(s.id, prof); err != nil {
			s.c.log.Warn("ocpp: profile not saved", "id", s.id, "err", err)
		}
	}
	if old != name {
		if err := s.sink.Connect(ctx, name, typ); err != nil {
			s.c.log.Debug("ocpp: connect", "device", name, "err", err)
		}
	}
}

// sampleTime is the timestamp of the first meter value of a MeterValues
// call, "" for other calls.
func sampleTime(action string, payload []byte) string {
	if action != "MeterValues" {
		return ""
	}
	var m struct {
		MeterValue []struct {
			Timestamp string `json:"timestamp"`
		} `json:"meterValue"`
	}
	if json.Unmarshal(payload, &m) != nil || len(m.MeterValue) == 0 {
		return ""
	}
	return m.MeterValue[0].Timestamp
}

// uplink converts a message by the datapoints whose messageTypeFilter
// names its action (BootNotification: the profile, see bootProfile) and hands the result to the event storage.
func (s *session) uplink(ctx context.Context, action string, payload, view []byte) error {
	conv := s.cp.conv[action]
	if conv == nil && (s.cp.custom == nil || !pyActions[action]) {
		return nil
	}
	s.nmu.Lock()
	name, typ := s.name, s.typ
	s.nmu.Unlock()
	if name == "" {
		// No BootNotification seen from this charger yet: name it by its id.
		name, typ = s.id, "default"
		s.nmu.Lock()
		s.name, s.typ = name, typ
		s.nmu.Unlock()
		s.c.bindDevice(s, "", name)
		_ = s.sink.Connect(ctx, name, typ)
	}
	if s.cp.custom != nil {
		return s.customUplink(ctx, action, payload, name, typ)
	}
	if view == nil {
		extra := map[string]any{"chargePointId": s.id}
		if ts := sampleTime(action, payload); ts != "" {
			// Meter values carry their sampling time; a charger flushing
			// values stored while offline must not have them stamped now.
			extra["ts"] = ts
		}
		var err error
		view, err = ocpp.View(payload, action == "DataTransfer", extra)
		if err != nil {
			return err
		}
	}
	data, err := conv.Convert("", view, s.c.env.Now().UnixMilli())
	if err != nil {
		s.c.log.Debug("ocpp: conversion", "id", s.id, "action", action, "err", err)
	}
	items := data[:0]
	for _, d := range data {
		if len(d.Attributes) == 0 && len(d.Telemetry) == 0 {
			continue
		}
		d.Device, d.Type = name, typ
		items = append(items, d)
	}
	return s.send(ctx, name, items)
}

// send hands converted data to the event storage.
func (s *session) send(ctx context.Context, name string, items []connector.Data) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.sink.Send(ctx, items); err != nil {
		if errors.Is(err, connector.ErrStorageFull) {
			s.c.stats.dropped.Add(1)
		}
		return fmt.Errorf("device %s: %w", name, err)
	}
	s.c.stats.dataSent.Add(uint64(len(items)))
	return nil
}

// customUplink converts a message with the charge point's converter class,
// called as upstream's charge point calls it. The class names the data's
// device (normally config["deviceName"]); data for another device is sent
// as it is named, as upstream does. A conversion that fails is logged and
// the message acknowledged: retrying it would fail again.
func (s *session) customUplink(ctx context.Context, action string, payload []byte, name, typ string) error {
	s.nmu.Lock()
	prof := s.profile // a BootNotification's is set already
	s.nmu.Unlock()
	args, err := pyArgs(action, name, typ, prof, payload)
	if err != nil {
		return err
	}
	data, err := s.cp.custom.conv.ConvertCall(args, s.c.env.Now().UnixMilli())
	if err != nil {
		s.c.log.Warn("ocpp: converter failed", "id", s.id, "action", action, "converter", s.cp.custom.name, "err", err)
		return nil
	}
	items := data[:0]
	for _, d := range data {
		if d.Device == "" || len(d.Attributes) == 0 && len(d.Telemetry) == 0 {
			continue
		}
		if d.Type == "" {
			d.Type = typ
		}
		items = append(items, d)
	}
	return s.send(ctx, name, items)
}
