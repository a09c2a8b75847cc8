package connector

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"
)

// Connector is one configured connector instance.
type Connector interface {
	// Run connects to the field side and pushes converted data into sink
	// until ctx is cancelled. It returns nil after cancellation. Any other
	// return (an error, or nil before ctx is done) makes the supervisor log
	// it, count it and run the connector again after a capped back-off.
	// Run waits for every goroutine it starts before it returns.
	Run(ctx context.Context, sink Sink) error
}

// Sink is the gateway side of a running connector. It is safe for
// concurrent use.
type Sink interface {
	// Send hands converted data to the gateway. It returns nil once every
	// item has been accepted by the event storage (durable under the
	// storage's fsync policy), so a connector may acknowledge its device only
	// after Send returned nil. Items of one device keep their order. Items
	// for devices rejected by the device filter are dropped and counted, not
	// reported as an error. Errors: ErrStopping, ErrStorageFull, or ctx's.
	Send(ctx context.Context, items []Data) error

	// Connect announces a device to ThingsBoard without data
	// (v1/gateway/connect). Devices are announced on their first data anyway.
	Connect(ctx context.Context, device, deviceType string) error

	// Disconnect tells ThingsBoard that a device went away.
	Disconnect(ctx context.Context, device string) error

	// RequestAttributes asks ThingsBoard for attribute values of a device:
	// shared attributes, or client-side ones when client is true. An empty
	// keys list asks for all of them. It blocks until the answer or ctx.
	RequestAttributes(ctx context.Context, device string, client bool, keys []string) (map[string]any, error)

	// Claim lets a ThingsBoard customer claim the device with secretKey
	// during duration (v1/gateway/claim).
	Claim(ctx context.Context, device, secretKey string, duration time.Duration) error
}

// Windower is implemented by a Sink whose gateway coalesces data within a
// latency window (minPackSendDelayMS). Window is the share of it a
// connector may spend gathering device data into fewer, larger Send calls
// (waiting between reads of a socket where data trickles in, for
// example); 0 means send at once. A connector never holds data longer.
type Windower interface {
	Window() time.Duration
}

// Errors a Sink reports.
var (
	ErrStopping    = errors.New("gateway is stopping")
	ErrStorageFull = errors.New("event storage is full")
)

// RPC is a server-side RPC from ThingsBoard. Device is empty for a
// connector-level RPC (method "<connectorType>_<name>" sent to the gateway
// device); Method then has the "<type>_" prefix removed.
type RPC struct {
	Device  string
	ID      int64
	Method  string
	Params  json.RawMessage // as received; "null" when absent
	Timeout time.Duration   // time left until ThingsBoard gives up
}

// AttributeHandler is implemented by connectors that write shared attribute
// updates to their devices.
type AttributeHandler interface {
	// OnAttributes applies shared attribute updates to device. Values are
	// decoded JSON: numbers are float64, except integers beyond ±2^53 (and
	// numbers out of float64 range), which arrive as json.Number so that
	// they keep every digit.
	OnAttributes(ctx context.Context, device string, values map[string]any) error
}

// RPCHandler is implemented by connectors that serve server-side RPCs.
type RPCHandler interface {
	// OnRPC serves req. The returned value is marshalled to JSON and sent as
	// the reply's "data" (device RPC) or as the reply body (connector RPC),
	// e.g. map[string]any{"result": map[string]any{"value": 78}} or
	// map[string]any{"success": true}. A non-nil error is sent as
	// {"success":false,"error":"<message>"}. ctx ends at req.Timeout.
	OnRPC(ctx context.Context, req RPC) (any, error)
}

// Statser is implemented by connectors that keep counters of their own
// (polls, timeouts, dropped items...). The gateway reports them with its
// statistics as "<connectorName><Counter>" (kit.Counters provides them).
type Statser interface {
	Stats() map[string]uint64
}

// Listener is implemented by server-type connectors (HTTP, socket, OCPP,
// SNMP traps...). ListenAddr is the address the connector listens on, ""
// until it listens; with port 0 configured it tells the port chosen.
type Listener interface {
	ListenAddr() string
}

// SharedKeyser is implemented by connectors that want the current values of
// some shared attributes pushed to OnAttributes whenever a device
// (re)connects (upstream syncDevicesSharedAttributesOnConnect). "*" in the
// list asks for all shared attributes.
type SharedKeyser interface {
	SharedAttributeKeys(device string) []string
}

// Env is what the gateway gives a connector when it builds one.
type Env struct {
	Name      string       // connector name from the connectors list
	Type      string       // connector type ("modbus", ...)
	ID        string       // stable id of this connector instance
	Log       *slog.Logger // already carries the connector name and its logLevel
	Now       func() time.Time
	File      string // the configuration file's name, for error messages (conf.Parse)
	ConfigDir string // resolve relative file names (certificates, ...) against it
	DataDir   string // a writable directory for this connector's own state
	// Strict refuses a configuration with an unusable entry (see kit.Skip)
	// instead of skipping the entry with a warning.
	Strict bool
}

// Factory parses and validates a connector configuration and returns a
// connector ready to Run. It does no I/O beyond reading files the
// configuration names, so `tbgw check` calls it to validate a file. Unknown
// keys are logged as warnings on env.Log; bad values are errors that name
// the file position and key path (see codec/conf).
type Factory func(config []byte, env Env) (Connector, error)
