// Package request is the HTTP pull connector ("type": "request"): it polls
// HTTP endpoints on a schedule, converts their answers into device data,
// and makes outgoing HTTP calls for shared attribute updates and RPCs. It
// reads upstream's request.json unchanged; docs/connectors/request.md is
// the configuration reference.
//
// # Polling
//
// The mappings are jobs of the kit's poll scheduler (one timer heap, a
// pool of "workers"): a mapping is polled again scanPeriod after its
// previous poll started, never while it is still running, and a failing
// one backs off. All mappings share one connection pool per TLS setting,
// each request is bounded by its timeout, and a response larger than
// maxResponseSize is refused unread.
//
// A JSON answer is optionally narrowed by dataUnpackExpression (a JSONPath),
// enriched by "subRequests" (one GET per element and key, whose answer is
// reduced by an expression of package codec/expr instead of upstream's
// Python processingFunction), and converted by codec/convert, a list
// element by element. The custom converter of upstream's sample
// (CustomRequestUplinkConverter) reads byte fields through codec/fieldconv.
//
// Non-goals: Python; cookies; proxies.
package request
