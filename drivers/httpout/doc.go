// Package httpout makes the outgoing HTTP calls that the Request and REST
// connectors' "attributeUpdates" and "serverSideRpc" entries (and their
// reserved get/set RPCs) describe: a URL and a body rendered from
// ${deviceName}, ${attributeKey}, ${attributeValue}, ${methodName},
// ${requestId}/${restId} and ${params[.path]} templates, headers, basic
// or client-certificate authentication, per-try timeouts, a bounded number
// of tries and a cap on the response size.
//
// Values placed in a URL path are percent-escaped; bodies get the values'
// text form (a lone ${params} is the params' JSON), as upstream renders
// them. Connections are reused per entry; a response larger than the cap
// is an error, never buffered whole.
//
// Non-goals: cookies, proxies, streaming bodies.
package httpout
