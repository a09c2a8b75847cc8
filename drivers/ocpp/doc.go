// Package ocpp is the OCPP connector ("type": "ocpp"): a central system
// (CSMS) that charge points reach over WebSocket with the subprotocols
// ocpp1.6 (OCPP 1.6J) and ocpp2.0.1. It reads upstream's ocpp.json
// unchanged; docs/connectors/ocpp.md is the configuration reference.
//
// # Connections
//
// The charge point id is the URL path without its slashes. Before the
// WebSocket upgrade a connection must pass the configured token or basic
// credentials (401), offer a supported subprotocol (400), match a
// chargePoints entry's idRegexpPattern (404) and fit under
// maxConnections (503). Every session has a message size limit and
// ping/pong liveness; a charger reconnecting replaces its old session.
//
// # Messages
//
// The core profile is answered with valid responses of the session's
// version (BootNotification, Heartbeat, StatusNotification, Authorize,
// Start/StopTransaction or TransactionEvent, MeterValues, DataTransfer,
// and the status notifications); malformed frames and calls that break
// the message structure get a CALLERROR with the version's error code.
// Datapoints whose messageTypeFilter names a message are converted from
// its payload (camelCase and upstream's snake_case names both resolve)
// and are in the event storage before the CALLRESULT goes out; a full
// storage is answered with InternalError so the charger retries.
//
// # Downlink
//
// Attribute updates and configured RPCs become DataTransfer calls as
// upstream; any call of the session's OCPP version can be sent by naming
// it as the RPC method with its payload as params.
//
// Non-goals: acting as a charge point, OCPP 2.1, smart-charging logic,
// authorization lists (every id tag is accepted, as upstream).
package ocpp
