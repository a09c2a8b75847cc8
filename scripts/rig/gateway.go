package rig

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// GatewayConfig describes the gateway under test.
type GatewayConfig struct {
	Bin  string // the tbgw binary
	Dir  string // configuration and data directory (created)
	TB   int    // ThingsBoard stand-in port
	MQTT int    // device broker port; 0: no MQTT connector
	// Storage is "file" (the write-ahead log) or "memory".
	Storage string
	// WALDir is the log directory; default Dir/wal.
	WALDir string
	// Fsync is the log's fsync policy (default "batch").
	Fsync string
	// PackDelayMS is minPackSendDelayMS, the coalescing window (0: the
	// gateway's default, 50 ms).
	PackDelayMS int
	// Overflow is "drop_oldest" (default) or "reject_new".
	Overflow string
	// MaxBytes bounds the storage (default 256 MiB for the log, 64 MiB
	// in memory); MaxRecords bounds the record count (default 2 000 000).
	MaxBytes   int64
	MaxRecords int
	// ReadBatch is the uplink read batch (default 1000).
	ReadBatch int
	// MQTTVersion of the connector's session (default 5).
	MQTTVersion int
	// Values is the number of value keys per message (default 6).
	Values int
	// ExtraConnectors are added to the connector list, with their files
	// (name -> content).
	ExtraConnectors []map[string]any
	ExtraFiles      map[string][]byte
	// Env adds environment variables (KEY=value).
	Env []string
}

// Write writes tb_gateway.json and the connector files into Dir.
func (c *GatewayConfig) Write() error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	if c.Storage == "" {
		c.Storage = "file"
	}
	if c.WALDir == "" {
		c.WALDir = filepath.Join(c.Dir, "wal")
	}
	if c.ReadBatch == 0 {
		c.ReadBatch = 1000
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 2_000_000
	}
	if c.Values == 0 {
		c.Values = 6
	}
	if c.MQTTVersion == 0 {
		c.MQTTVersion = 5
	}
	var st map[string]any
	switch c.Storage {
	case "memory":
		st = map[string]any{"type": "memory", "max_records_count": c.MaxRecords,
			"read_records_count": c.ReadBatch, "max_bytes": cmp(c.MaxBytes, 64<<20)}
	default:
		// max_file_count x max_records_per_file is the record limit.
		st = map[string]any{"type": "file", "data_folder_path": c.WALDir,
			"max_file_count": 100, "max_records_per_file": (c.MaxRecords + 99) / 100,
			"max_read_records_count": c.ReadBatch, "max_bytes": cmp(c.MaxBytes, 256<<20),
			"segment_bytes": 1 << 20, "fsync": cmps(c.Fsync, "batch")}
	}
	st["overflow"] = cmps(c.Overflow, "drop_oldest")
	var conns []map[string]any
	files := map[string][]byte{}
	if c.MQTT != 0 {
		conns = append(conns, map[string]any{"type": "mqtt", "name": "Bench MQTT", "configuration": "mqtt.json"})
		b, err := json.MarshalIndent(c.mqttConnector(), "", "  ")
		if err != nil {
			return err
		}
		files["mqtt.json"] = b
	}
	conns = append(conns, c.ExtraConnectors...)
	maps.Copy(files, c.ExtraFiles)
	main := map[string]any{
		"thingsboard": map[string]any{
			"host": "127.0.0.1", "port": c.TB, "qos": 1,
			"security":               map[string]any{"type": "accessToken", "accessToken": "bench-gateway"},
			"statistics":             map[string]any{"enable": false},
			"reportStrategy":         map[string]any{"type": "ON_RECEIVED"},
			"checkingDeviceActivity": map[string]any{"checkDeviceInactivity": false},
		},
		"storage":    st,
		"connectors": conns,
	}
	if c.PackDelayMS != 0 {
		main["thingsboard"].(map[string]any)["minPackSendDelayMS"] = c.PackDelayMS
	}
	b, err := json.MarshalIndent(main, "", "  ")
	if err != nil {
		return err
	}
	files["tb_gateway.json"] = b
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mqttConnector is the connector file: a persistent session (so the
// broker keeps what the gateway has not acknowledged while it is down)
// and a JSON converter taking the device name from the topic, as in
// upstream's sample, and every payload key as a time series.
func (c *GatewayConfig) mqttConnector() map[string]any {
	ts := []any{
		map[string]any{"type": "integer", "key": "seq", "value": "${seq}"},
		map[string]any{"type": "integer", "key": "t", "value": "${t}"},
	}
	for i := 1; i <= c.Values; i++ {
		ts = append(ts, map[string]any{"type": "double", "key": fmt.Sprintf("v%d", i), "value": fmt.Sprintf("${v%d}", i)})
	}
	return map[string]any{
		"broker": map[string]any{
			"name": "Device broker", "host": "127.0.0.1", "port": c.MQTT,
			"clientId": "tbgw-rig", "version": c.MQTTVersion,
			"cleanSession": false, "cleanStart": false, "sessionExpiryInterval": 86400,
			"keepAlive": 30, "security": map[string]any{"type": "anonymous"},
		},
		"mapping": []any{map[string]any{
			"topicFilter": "sensor/+/data", "subscriptionQos": 1,
			"converter": map[string]any{
				"type": "json",
				"deviceInfo": map[string]any{
					"deviceNameExpressionSource": "topic", "deviceNameExpression": "(?<=sensor/)(.*?)(?=/data)",
					"deviceProfileExpressionSource": "constant", "deviceProfileExpression": "bench",
				},
				"timeseries": ts,
			},
		}},
	}
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func cmps(v, def string) string { return cmp(v, def) }

// Gateway is the gateway under test, run from its binary.
type Gateway struct {
	Cfg  GatewayConfig
	proc *Proc
	logf *os.File
	// Starts counts the processes started.
	Starts int
	// expectDown is set while the rig kills or stops the gateway on purpose.
	expectDown atomic.Bool
}

// ExpectDown tells the rig's waits whether the gateway being down is
// expected (true from a kill until the next Start).
func (g *Gateway) ExpectDown(v bool) { g.expectDown.Store(v) }

// NewGateway writes the configuration.
func NewGateway(cfg GatewayConfig) (*Gateway, error) {
	if err := cfg.Write(); err != nil {
		return nil, err
	}
	return &Gateway{Cfg: cfg}, nil
}

// LogPath is the file collecting the gateway's standard error.
func (g *Gateway) LogPath() string { return filepath.Join(g.Cfg.Dir, "gateway.log") }

// LogTail returns the end of the gateway log.
func (g *Gateway) LogTail(n int64) string { return tail(g.LogPath(), n) }

// Start starts a gateway process (the previous one must have exited).
func (g *Gateway) Start() error {
	if g.proc != nil {
		if gone, _ := g.proc.Exited(); !gone {
			return fmt.Errorf("gateway already running (pid %d)", g.proc.Pid())
		}
		g.closeLog()
	}
	logf, err := os.OpenFile(g.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "---- start %d at %s\n", g.Starts+1, time.Now().Format(time.RFC3339Nano))
	p, err := StartProcEnv("tbgw", logf, g.Cfg.Env, g.Cfg.Bin, "-c", g.Cfg.Dir, "-data", g.Cfg.Dir)
	if err != nil {
		logf.Close()
		return err
	}
	g.proc, g.logf = p, logf
	g.Starts++
	g.expectDown.Store(false)
	return nil
}

// Pid is the running process's id, 0 if none.
func (g *Gateway) Pid() int {
	if g.proc == nil {
		return 0
	}
	return g.proc.Pid()
}

// Alive reports whether the process runs.
func (g *Gateway) Alive() bool {
	if g.proc == nil {
		return false
	}
	gone, _ := g.proc.Exited()
	return !gone
}

// Kill kills the gateway with SIGKILL.
func (g *Gateway) Kill() {
	g.expectDown.Store(true)
	if g.proc != nil {
		g.proc.Kill()
	}
	g.closeLog()
}

// Stop stops the gateway with SIGTERM (killing it after 20 s) and
// returns its exit error.
func (g *Gateway) Stop() error {
	g.expectDown.Store(true)
	if g.proc == nil {
		return nil
	}
	_, err := g.proc.Stop(20 * time.Second)
	g.closeLog()
	return err
}

func (g *Gateway) closeLog() {
	if g.logf != nil {
		g.logf.Close()
		g.logf = nil
	}
}
