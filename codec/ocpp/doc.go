// Package ocpp is the OCPP-J wire format (OCPP 1.6J and 2.0.1) without
// I/O: the RPC framing of CALL, CALLRESULT and CALLERROR messages, a
// compact schema check for the requests a central system (CSMS) accepts
// from charge points, the error codes each version names, and the
// snake_case view of payloads that upstream gateway configurations
// address (${meter_value[:].sampled_value[:].value}).
//
//	m, err := ocpp.Parse(frame)             // [2,"19","Heartbeat",{}]
//	if err != nil { reply ocpp.AppendError(nil, ocpp.ErrorID(err), ...) }
//	if err := ocpp.Validate(ocpp.V16, m.Action, m.Payload); err != nil { ... }
//	out := ocpp.AppendResult(nil, m.ID, []byte(`{"currentTime":"..."}`))
//
// Parse never panics and bounds what it accepts (message id length,
// action name length, nesting depth via encoding/json). Errors carry the
// OCPP error code to answer with ([*Error]).
//
// Non-goals: the WebSocket transport, sessions and the CSMS behaviour
// (drivers/ocpp); full JSON-Schema validation of every message of both
// versions: [Validate] checks the structure (required members, JSON
// types, string lengths, the enumerations a CSMS acts upon) of the
// charge-point-initiated core messages and lets unknown members pass, so
// a charger with vendor extensions keeps working.
package ocpp
