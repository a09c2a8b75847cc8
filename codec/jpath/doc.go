// Package jpath indexes a JSON document once and resolves compiled paths
// against it without re-parsing and, on the hot path, without allocating.
//
// It exists because converters run once per device message: decoding a
// payload into map[string]any with encoding/json costs far more than the
// conversion itself. [Parse] (or [Doc.Reset] on a pooled Doc) validates the
// payload and records a flat token index; [Doc.Get], [Doc.Index] and a
// compiled [Path] then walk that index. Values are read on demand as raw
// bytes, text, numbers or data-model values ([Doc.Value]).
//
//	p, _ := jpath.Compile("$.data[0].temperature") // at config load
//	doc, err := jpath.Parse(payload)                // per message
//	n := p.Eval(doc, doc.Root())
//	if n != jpath.NoNode { f, ok := doc.Float(n) }
//
// The path language is the subset of JSONPath (python jsonpath_rw) that
// upstream gateway configurations use; see [Compile].
//
// Non-goals: filters, unions, script expressions; modifying documents.
package jpath
