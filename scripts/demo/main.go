// Command demo runs tbgw against a local ThingsBoard stand-in: an embedded
// MQTT broker plus a client that plays ThingsBoard. It starts the real tbgw
// binary with the simulator connector and prints, live, what ThingsBoard
// receives; after a few seconds it sends a shared attribute update and two
// RPCs and prints the gateway's answers. Stop it with Ctrl-C (or set
// DEMO_SECONDS).
//
//	go build -o tbgw . && go run ./scripts/demo
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s, err := strconv.Atoi(os.Getenv("DEMO_SECONDS")); err == nil && s > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s)*time.Second)
		defer cancel()
	}
	bin, err := filepath.Abs("tbgw")
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("build the gateway first (make build): %w", err)
	}

	// 1. The broker standing in for ThingsBoard's MQTT endpoint.
	port, err := freePort()
	if err != nil {
		return err
	}
	broker := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	_ = broker.AddHook(new(auth.AllowHook), nil)
	if err := broker.AddListener(listeners.NewTCP(listeners.Config{ID: "tb", Address: fmt.Sprintf("127.0.0.1:%d", port)})); err != nil {
		return err
	}
	go broker.Serve()
	defer broker.Close()

	// 2. A configuration directory: the shipped samples pointed at the broker.
	dir, err := os.MkdirTemp("", "tbgw-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	main, err := os.ReadFile("etc/tbgw/tb_gateway.json")
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(main, &cfg); err != nil {
		return err
	}
	tbSec := cfg["thingsboard"].(map[string]any)
	tbSec["port"] = port
	tbSec["statistics"] = map[string]any{"enable": true, "statsSendPeriodInSeconds": 10}
	// The shipped configuration enables no connector: the demo runs the
	// simulator with the shipped simulator.json.
	cfg["connectors"] = []any{map[string]any{"type": "simulator", "name": "Simulator", "configuration": "simulator.json"}}
	out, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "tb_gateway.json"), out, 0o644); err != nil {
		return err
	}
	sim, err := os.ReadFile("etc/tbgw/simulator.json")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "simulator.json"), sim, 0o644); err != nil {
		return err
	}

	// 3. The client playing ThingsBoard.
	var msgs, points atomic.Int64
	replies := make(chan string, 16)
	opts := paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", port)).SetClientID("thingsboard-stand-in").SetOrderMatters(false)
	tb := paho.NewClient(opts)
	if t := tb.Connect(); t.Wait() && t.Error() != nil {
		return t.Error()
	}
	defer tb.Disconnect(100)
	tb.Subscribe("v1/#", 1, func(_ paho.Client, m paho.Message) {
		msgs.Add(1)
		show(tb, m, &points, replies)
	})

	// 4. The real gateway.
	gwCmd := exec.CommandContext(ctx, bin, "-c", dir, "-data", dir)
	gwCmd.Cancel = func() error { return gwCmd.Process.Signal(syscall.SIGTERM) }
	gwCmd.WaitDelay = 15 * time.Second
	stderr, _ := gwCmd.StderrPipe()
	if err := gwCmd.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Println("  [tbgw log]", sc.Text())
		}
	}()
	fmt.Printf("ThingsBoard stand-in on 127.0.0.1:%d, tbgw pid %d, config %s\n", port, gwCmd.Process.Pid, dir)
	fmt.Println("What ThingsBoard receives:")

	// 5. Downlink after a few seconds: attribute update and RPCs.
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(6 * time.Second):
		}
		fmt.Println(">> ThingsBoard sends shared attribute targetTemperature=22.5 to Sim Device 1")
		tb.Publish("v1/gateway/attributes", 1, false, `{"device":"Sim Device 1","data":{"targetTemperature":22.5}}`)
		fmt.Println(`>> ThingsBoard sends RPC setValue {"key":"status","value":"maintenance"} to Sim Device 2`)
		tb.Publish("v1/gateway/rpc", 1, false, `{"device":"Sim Device 2","data":{"id":1,"method":"setValue","params":{"key":"status","value":"maintenance"}}}`)
		fmt.Println(`>> ThingsBoard sends RPC getValue {"key":"counter"} to Sim Device 3`)
		tb.Publish("v1/gateway/rpc", 1, false, `{"device":"Sim Device 3","data":{"id":2,"method":"getValue","params":{"key":"counter"}}}`)
		fmt.Println(">> ThingsBoard sends gateway RPC gateway_ping")
		tb.Publish("v1/devices/me/rpc/request/3", 1, false, `{"method":"gateway_ping","params":{}}`)
	}()

	err = gwCmd.Wait()
	fmt.Printf("\nThingsBoard received %d messages with %d datapoints.\n", msgs.Load(), points.Load())
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// show prints one message as ThingsBoard sees it and answers the
// gateway's session-limits request.
func show(tb paho.Client, m paho.Message, points *atomic.Int64, _ chan string) {
	topic, payload := m.Topic(), m.Payload()
	switch {
	case strings.HasPrefix(topic, "v1/devices/me/rpc/request/"):
		var req struct {
			Method string `json:"method"`
		}
		if json.Unmarshal(payload, &req) == nil && req.Method == "getSessionLimits" {
			id := strings.TrimPrefix(topic, "v1/devices/me/rpc/request/")
			tb.Publish("v1/devices/me/rpc/response/"+id, 1, false,
				`{"maxPayloadSize":65536,"maxInflightMessages":100,"rateLimits":{},"gatewayRateLimits":{}}`)
			fmt.Println("   gateway asked for its session limits; answered")
		}
		return // otherwise our own request, echoed by the broker
	case topic == "v1/gateway/telemetry":
		var m map[string][]struct {
			TS     int64          `json:"ts"`
			Values map[string]any `json:"values"`
		}
		if json.Unmarshal(payload, &m) == nil {
			for dev, entries := range m {
				for _, e := range entries {
					points.Add(int64(len(e.Values)))
					fmt.Printf("   telemetry   %-13s %s  %s\n", dev, time.UnixMilli(e.TS).Format("15:04:05.000"), kv(e.Values))
				}
			}
			return
		}
	case topic == "v1/gateway/attributes":
		if strings.HasPrefix(string(payload), `{"device":`) {
			return // our own update, echoed by the broker
		}
		var m map[string]map[string]any
		if json.Unmarshal(payload, &m) == nil {
			for dev, vals := range m {
				points.Add(int64(len(vals)))
				fmt.Printf("   attributes  %-13s %s\n", dev, kv(vals))
			}
			return
		}
	case topic == "v1/gateway/rpc":
		var r map[string]any
		if json.Unmarshal(payload, &r) == nil {
			if _, isReply := r["id"]; isReply {
				fmt.Printf("<< RPC reply   %s\n", payload)
			}
			return
		}
	case strings.HasPrefix(topic, "v1/devices/me/rpc/response/"):
		if strings.Contains(string(payload), "maxPayloadSize") {
			return // our own answer, echoed
		}
		fmt.Printf("<< gateway RPC reply %s\n", payload)
		return
	case topic == "v1/devices/me/telemetry":
		fmt.Printf("   gateway statistics %s\n", payload)
		return
	}
	fmt.Printf("   %-25s %s\n", topic, payload)
}

func kv(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v ", k, m[k])
	}
	return b.String()
}
