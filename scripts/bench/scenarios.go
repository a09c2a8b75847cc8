package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

type bench struct {
	o    options
	ctx  context.Context
	log  io.Writer
	rows []rig.Result
	n    int
}

func (b *bench) dir(name string) string {
	b.n++
	return filepath.Join(b.o.Work, fmt.Sprintf("%02d-%s", b.n, name))
}

// sleep waits d (a measurement duration, not a condition) or until the
// run is interrupted.
func (b *bench) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.ctx.Done():
		return b.ctx.Err()
	case <-t.C:
		return nil
	}
}

// dpPerMsg is the datapoints of one generated message: seq, t and the
// values.
func (b *bench) dpPerMsg() int { return b.o.Values + 2 }

// shape is the generated load: value keys per message (each message also
// carries seq and t) and device connections (0: the generator's default).
type shape struct{ values, conns int }

// loadStep runs one MQTT ingest measurement on a fresh rig and gateway:
// warm-up, measured window, then the load stops and everything accepted
// must reach ThingsBoard. rateDP 0 means flat out (closed loop).
func (b *bench) loadStep(name string, gc rig.GatewayConfig, rateDP float64) (res rig.Result, err error) {
	return b.loadShape(name, gc, rateDP, shape{values: b.o.Values})
}

func (b *bench) loadShape(name string, gc rig.GatewayConfig, rateDP float64, sh shape) (res rig.Result, err error) {
	res.Scenario = name
	dpPerMsg := sh.values + 2
	gc.Bin, gc.Values = b.o.Bin, sh.values
	if gc.Fsync == "" {
		gc.Fsync = b.o.Fsync
	}
	gc.PackDelayMS = b.o.PackDelayMS
	gc.MQTTVersion = b.o.MQTTVersion
	gc.Env = b.gwEnv()
	pport := 0
	if b.o.Profile != "" {
		if pport, err = rig.FreePort(); err != nil {
			return res, err
		}
		gc.Env = append(gc.Env, fmt.Sprintf("TBGW_PPROF_PORT=%d", pport))
	}
	r, err := rig.New(rig.Options{Dir: b.dir(name), Gateway: gc, Log: b.log})
	if err != nil {
		return res, err
	}
	defer r.Close()
	if err := r.GW.Start(); err != nil {
		return res, err
	}
	s := rig.Sample(r.GW.Pid())
	defer s.Close()
	if err := r.WaitReady(30 * time.Second); err != nil {
		return res, err
	}
	gen := rig.GenConfig{Addr: r.Dev.Addr(), Devices: r.Devices("dev", b.o.Devices), Values: sh.values,
		Conns: sh.conns, Rate: rateDP / float64(dpPerMsg)}
	if rateDP == 0 {
		gen.MaxBacklog = b.o.MaxBacklog
	}
	r.Logf("%s: load at %.0f dp/s (0: flat out)", name, rateDP)
	r.Gen = rig.StartGenerator(r.Led, gen)
	if err := b.sleep(b.o.Warmup); err != nil {
		return res, err
	}
	w := r.StartWindow(s)
	prof := make(chan error, 1)
	var base string
	if pport != 0 {
		base = filepath.Join(b.o.Profile, fmt.Sprintf("%02d-%s", b.n, strings.NewReplacer(" ", "_", "→", "-", "/", "").Replace(name)))
		if err := os.MkdirAll(b.o.Profile, 0o755); err != nil {
			return res, err
		}
		go func() { prof <- rig.FetchProfile(pport, "profile", b.o.Duration-time.Second, base+".cpu.pprof") }()
	} else {
		prof <- nil
	}
	if err := b.sleep(b.o.Duration); err != nil {
		return res, err
	}
	w.End(&res, dpPerMsg)
	if err := <-prof; err != nil {
		return res, err
	}
	if pport != 0 { // the heap under load, and 2 s of execution trace (who wakes whom)
		if err := rig.FetchProfile(pport, "heap", 0, base+".heap.pprof"); err != nil {
			return res, err
		}
		if err := rig.FetchProfile(pport, "trace", 2*time.Second, base+".trace"); err != nil {
			return res, err
		}
	}
	r.Logf("%s: offered %.0f, delivered %.0f dp/s; draining", name, res.Offered, res.Delivered)
	drainStart := time.Now()
	if err := r.StopLoad(10 * time.Minute); err != nil {
		return res, err
	}
	if d := time.Since(drainStart); d > 2*time.Second {
		res.Note = fmt.Sprintf("backlog drained in %s", rig.Dur(d))
	}
	if err := b.finish(r, &res); err != nil {
		return res, err
	}
	return res, nil
}

// finish stops the gateway cleanly and fills the loss columns; an
// accepted message that was lost is an error.
func (b *bench) finish(r *rig.Rig, res *rig.Result) error {
	if err := r.GW.Stop(); err != nil {
		return fmt.Errorf("gateway stop: %w\n%s", err, r.GW.LogTail(2000))
	}
	a := r.Led.Account()
	res.Lost, res.Dups = a.Lost, a.Dups
	r.Logf("%s: %s", res.Scenario, a)
	if a.Lost > 0 {
		return fmt.Errorf("%s: %s", res.Scenario, a)
	}
	if _, _, bad := r.TB.Messages(); bad > 0 {
		return fmt.Errorf("%s: %d malformed telemetry messages", res.Scenario, bad)
	}
	return nil
}

// gwEnv is the -gw-env list.
func (b *bench) gwEnv() []string {
	var out []string
	for _, kv := range strings.Split(b.o.GWEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			out = append(out, kv)
		}
	}
	return out
}

func (b *bench) add(res rig.Result, err error) error {
	if res.Scenario != "" && (err == nil || res.Offered > 0) {
		b.rows = append(b.rows, res)
		if b.log != nil {
			rig.WriteTable(b.log, []rig.Result{res})
		}
	}
	return err
}

// sweep raises the offered rate step by step, through the write-ahead log
// with an fsync per batch, then runs flat out.
func (b *bench) sweep() error {
	rates, err := parseRates(b.o.Rates)
	if err != nil {
		return err
	}
	for _, rate := range rates {
		res, err := b.loadStep(fmt.Sprintf("mqtt→wal %.0fk", rate/1000), rig.GatewayConfig{Storage: "file"}, rate)
		if err := b.add(res, err); err != nil {
			return err
		}
		if res.Delivered < 0.9*res.Offered {
			break // saturated
		}
	}
	return b.add(b.loadStep("mqtt→wal max", rig.GatewayConfig{Storage: "file"}, 0))
}

// anchor is the everyday workload: 3-datapoint messages (seq, t and one
// value) from the devices over one device connection at QoS 1, at the
// -anchor-rates (messages/s) through the log, and at the first of them
// through memory storage.
func (b *bench) anchor() error {
	rates, err := parseRates(b.o.AnchorRates)
	if err != nil {
		return err
	}
	sh := shape{values: 1, conns: 1}
	for i, mps := range rates {
		res, err := b.loadShape(fmt.Sprintf("anchor→wal %.0f msg/s", mps), rig.GatewayConfig{Storage: "file"}, mps*3, sh)
		if err := b.add(res, err); err != nil {
			return err
		}
		if i == 0 || mps == 1000 {
			res, err := b.loadShape(fmt.Sprintf("anchor→memory %.0f msg/s", mps), rig.GatewayConfig{Storage: "memory"}, mps*3, sh)
			if err := b.add(res, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// storage compares memory storage with the log at a fixed rate and flat
// out.
func (b *bench) storage() error {
	for _, st := range []string{"memory", "file"} {
		label := map[string]string{"memory": "memory", "file": "wal"}[st]
		if err := b.add(b.loadStep(fmt.Sprintf("mqtt→%s %.0fk", label, b.o.FixedRate/1000),
			rig.GatewayConfig{Storage: st}, b.o.FixedRate)); err != nil {
			return err
		}
		if st == "memory" {
			if err := b.add(b.loadStep("mqtt→memory max", rig.GatewayConfig{Storage: st}, 0)); err != nil {
				return err
			}
		}
	}
	return nil
}

// idle measures the gateway with the shipped sample configuration (the
// simulator connector, three devices once a second) and with an MQTT
// connector that receives nothing.
func (b *bench) idle() error {
	if err := b.add(b.idleSample()); err != nil {
		return err
	}
	return b.add(b.idleMQTT())
}

func (b *bench) idleSample() (res rig.Result, err error) {
	res.Scenario = "idle, sample config"
	gc := rig.GatewayConfig{Bin: b.o.Bin, Storage: "file", Env: b.gwEnv()}
	r, err := rig.New(rig.Options{Dir: b.dir("idle-sample"), Gateway: gc, NoDeviceBroker: true, Log: b.log})
	if err != nil {
		return res, err
	}
	defer r.Close()
	// The shipped files, pointed at the stand-in.
	var main map[string]any
	raw, err := os.ReadFile(filepath.Join(b.o.Etc, "tb_gateway.json"))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(raw, &main); err != nil {
		return res, err
	}
	main["thingsboard"].(map[string]any)["port"] = r.TB.Port
	// The shipped configuration enables no connector; the sample run is
	// the shipped simulator.json.
	main["connectors"] = []any{map[string]any{"type": "simulator", "name": "Simulator", "configuration": "simulator.json"}}
	out, _ := json.MarshalIndent(main, "", "  ")
	if err := os.WriteFile(filepath.Join(r.GW.Cfg.Dir, "tb_gateway.json"), out, 0o644); err != nil {
		return res, err
	}
	for _, f := range []string{"simulator.json", "logs.json"} {
		if b, err := os.ReadFile(filepath.Join(b.o.Etc, f)); err == nil {
			if err := os.WriteFile(filepath.Join(r.GW.Cfg.Dir, f), b, 0o644); err != nil {
				return res, err
			}
		}
	}
	return b.idleRun(r, res, 4)
}

func (b *bench) idleMQTT() (res rig.Result, err error) {
	res.Scenario = "idle, MQTT connector"
	r, err := rig.New(rig.Options{Dir: b.dir("idle-mqtt"), Gateway: rig.GatewayConfig{Bin: b.o.Bin, Storage: "file", Env: b.gwEnv()}, Log: b.log})
	if err != nil {
		return res, err
	}
	defer r.Close()
	return b.idleRun(r, res, b.dpPerMsg())
}

func (b *bench) idleRun(r *rig.Rig, res rig.Result, dp int) (rig.Result, error) {
	if err := r.GW.Start(); err != nil {
		return res, err
	}
	s := rig.Sample(r.GW.Pid())
	defer s.Close()
	if err := r.WaitReady(30 * time.Second); err != nil {
		return res, err
	}
	w := r.StartWindow(s)
	if err := b.sleep(b.o.Idle); err != nil {
		return res, err
	}
	w.End(&res, dp)
	res.Offered, res.Delivered, res.CPUPer1k, res.P50, res.P99 = 0, 0, 0, 0, 0
	tel, _, _ := r.TB.Messages()
	res.Note = fmt.Sprintf("%d telemetry messages in %s", tel, b.o.Idle)
	return res, b.finish(r, &res)
}

// modbus polls many 16-bit registers from the libmodbus test slave and
// counts what reaches ThingsBoard (the write-ahead log in between).
func (b *bench) modbus() error {
	if _, err := rig.FindModbusSlave(); err != nil {
		if os.Getenv("TBGW_REQUIRE_PEERS") == "1" {
			return err
		}
		b.rows = append(b.rows, rig.Result{Scenario: "modbus", Note: "skipped: " + err.Error()})
		return nil
	}
	for _, f := range strings.Split(b.o.MBPeriods, ",") {
		period, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || period <= 0 {
			return fmt.Errorf("bad poll period %q", f)
		}
		if err := b.add(b.modbusStep(period)); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) modbusStep(period time.Duration) (res rig.Result, err error) {
	n, tags := b.o.MBDevices, b.o.MBTags
	res.Scenario = fmt.Sprintf("modbus %d×%d / %s", n, tags, period)
	slave, err := rig.StartModbus()
	if err != nil {
		return res, err
	}
	defer slave.Stop()
	raw, err := json.Marshal(rig.ModbusConfig(slave.Port, n, tags, period))
	if err != nil {
		return res, err
	}
	gc := rig.GatewayConfig{Bin: b.o.Bin, Storage: "file", Env: b.gwEnv(),
		ExtraConnectors: []map[string]any{{"type": "modbus", "name": "Bench Modbus", "configuration": "modbus.json"}},
		ExtraFiles:      map[string][]byte{"modbus.json": raw}}
	r, err := rig.New(rig.Options{Dir: b.dir("modbus"), Gateway: gc, NoDeviceBroker: true, Log: b.log})
	if err != nil {
		return res, err
	}
	defer r.Close()
	if err := r.GW.Start(); err != nil {
		return res, err
	}
	s := rig.Sample(r.GW.Pid())
	defer s.Close()
	if err := r.Await(60*time.Second, "Modbus data at ThingsBoard", func() bool { return r.Led.Counters().Raw > 0 }); err != nil {
		return res, err
	}
	if err := b.sleep(b.o.Warmup); err != nil {
		return res, err
	}
	w := r.StartWindow(s)
	if err := b.sleep(b.o.Duration); err != nil {
		return res, err
	}
	w.End(&res, 0)
	res.Offered = float64(n*tags) / period.Seconds()
	res.P50, res.P99 = 0, 0
	res.Note = "offered: tags/poll period; latency not measured"
	return res, b.finish(r, &res)
}
