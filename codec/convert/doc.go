// Package convert holds the built-in uplink converters driven by upstream
// converter configuration: [JSON] (MQTT/REST/Request/XMPP/OCPP "type":
// "json") and [Bytes] (MQTT "type": "bytes"), plus the device naming they
// share ([Names], [Name]).
//
// A connector decodes the "converter" block into [Config] (it can embed
// it in its own config struct; unknown keys are reported by codec/conf),
// compiles it once and calls Convert per message:
//
//	var cfg convert.Config                 // from the mapping's "converter"
//	c, err := convert.NewJSON(&cfg, convert.Options{Report: mappingStrategy})
//	data, err := c.Convert(topic, payload, time.Now().UnixMilli())
//	err = sink.Send(ctx, data)             // []codec.Data, no copy
//
// Configuration errors are *[Error] values with the key path inside the
// block ("timeseries[2].value"), to be reported with codec/conf positions.
// [New] dispatches on "type", including "custom" converters registered
// with codec.RegisterUplink.
//
// # JSON converter
//
// deviceInfo sources: "message" (also "request", "expression"): a
// template over the payload, unresolved placeholders kept as written;
// "constant"; "topic": a Python regex searched in the topic, yielding its
// last capturing group, else the whole match, else the expression itself.
// Legacy deviceNameJsonExpression/deviceTypeJsonExpression (message),
// deviceNameTopicExpression/deviceTypeTopicExpression (topic) and
// deviceNameExpression/deviceTypeExpression (message) are accepted.
//
// "attributes" and "timeseries" (Request: "telemetry") are lists of
// {type, key, value, keySource, tsField, dayfirst, yearfirst,
// reportStrategy} or "*" for every top-level member. A value that is a
// single placeholder keeps its JSON type before conversion by "type"
// (package value); one with literal text or several placeholders is
// rendered as text first. A datapoint whose value is missing or null is
// skipped. Objects and arrays become JSON (json.RawMessage for "json" and
// untyped values, compact JSON text for "string").
//
// Telemetry timestamps: useReceivedTs → nowMs; else the datapoint's
// tsField (a path; else, as upstream, the first member named like its last
// segment at any depth), parsed by package tstamp; else the payload's
// top-level "ts" or "timestamp"; else nowMs.
//
// A JSON array payload is converted element by element; elements of the
// same device are merged. With useEval the value template is compiled as
// an expression of package expr whose ${...} placeholders are variables.
package convert
