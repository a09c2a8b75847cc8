// Package tmpl compiles the ${...} templates of converter configurations
// once, at load time, and renders them per message without parsing.
//
// Uplink (a value template over a JSON payload):
//
//	t, err := tmpl.Compile("${Developer}:${hum}")
//	doc, _ := jpath.Parse(payload)
//	b, missing := t.Append(buf[:0], doc, doc.Root(), tmpl.MissingEmpty)
//
// A placeholder is resolved as upstream does: when the payload is an
// object holding the placeholder's first word as a key, that member;
// otherwise the placeholder is a JSONPath (see package jpath) and its
// first match is used: ${temp}, ${device name}, ${$.data[0].t},
// ${values[*].v}, ${meter_value[:].sampled_value[:].value}.
// [Template.Single] templates ("${x}" alone) let the caller keep the
// value's JSON type through [Template.Lookup].
//
// Downlink (attribute updates, RPC):
//
//	t := tmpl.MustCompile(`{"${attributeKey}":"${attributeValue}"}`)
//	body := t.Payload(&tmpl.Vars{Device: "SN-002", Key: "fw", Value: 6.6})
//
// See [Vars] for the placeholders. Connectors with their own placeholder
// sources (OPC-UA node paths, KNX group addresses, Modbus ${address}) use
// [Template.Expand] with a resolver function.
package tmpl
