package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// Status is the state of a running gateway.
type Status struct {
	Version     string    `json:"version"`
	PID         int       `json:"pid"`
	Started     time.Time `json:"started"`
	ThingsBoard string    `json:"thingsboard"` // host:port
	Connected   bool      `json:"connected"`
	// QueueDepth is the number of stored events not yet acknowledged by
	// ThingsBoard; StorageBytes the bytes they take.
	QueueDepth   uint64 `json:"queueDepth"`
	StorageBytes int64  `json:"storageBytes"`
	StorageType  string `json:"storageType"`
	// Counters are the gateway-wide counters since start (eventsStored,
	// eventsSent, datapointsSent, messagesSent, reconnects, ...).
	Counters   map[string]uint64 `json:"counters"`
	Connectors []Connector       `json:"connectors"`
}

// Connector is the state of one configured connector.
type Connector struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// State is "running", "restarting" (failed, waiting to start again)
	// or "failed" (could not be built from its configuration).
	State     string `json:"state"`
	LastError string `json:"lastError,omitempty"`
	// Counters are kept by the gateway for every connector (eventsProduced,
	// datapointsReceived, errors, restarts, ...); Stats are the
	// connector's own (polls, timeouts, ...).
	Counters map[string]uint64 `json:"counters"`
	Stats    map[string]uint64 `json:"stats,omitempty"`
}

// Source is what the servers read: the gateway.
type Source interface {
	// Status reads the current state.
	Status() Status
	// Alive returns nil when the gateway's main loops answer within ctx.
	Alive(ctx context.Context) error
}

// Fetch reads the state from the unix socket a running gateway serves.
func Fetch(ctx context.Context, socket string) (Status, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return Status{}, fmt.Errorf("status socket: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var st Status
	if err := json.NewDecoder(conn).Decode(&st); err != nil {
		return Status{}, fmt.Errorf("status socket %s: %w", socket, err)
	}
	return st, nil
}
