// Package rest is the HTTP push connector ("type": "rest"): an HTTP(S)
// server whose endpoints devices and third-party systems post data to,
// plus the outgoing HTTP calls of shared attribute updates and RPCs. It
// reads upstream's rest.json (and its older flat layout) unchanged;
// docs/connectors/rest.md is the configuration reference.
//
// # Durability
//
// A data request is answered 200 only after the gateway's Send returned
// nil, that is once the data is in the event log. A full log (or a
// stopping gateway) is answered 503 with Retry-After, so the sender keeps
// its data and retries; nothing is acknowledged and then dropped.
//
// # Bounds
//
// Bodies are capped (maxBodySize) and never read past the cap; header and
// body reads are bounded in time (readTimeout); at most maxConcurrent
// requests are handled at once, others are answered 503 at once; at most
// maxConnections connections are open. A slow or hostile client costs one
// connection for a bounded time and no more than the cap in memory.
//
// Endpoints are net/http ServeMux patterns: "{name}" path parameters as
// upstream's aiohttp routes, without aiohttp's "{name:regex}" form. With
// "SSL": true and no usable certificate files a self-signed certificate is
// generated once in the connector's data directory.
//
// Non-goals: websockets; chunked streaming of request bodies to devices.
package rest
