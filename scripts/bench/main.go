// Command bench measures the tbgw binary: throughput, loss, CPU per
// datapoint, memory and latency, MQTT ingest to ThingsBoard through the
// write-ahead log or memory storage, and idle; and, beside the everyday
// workload, the machine's floor (scripts/floor/floor.c: the same rounds'
// system calls in C). It prints one table.
//
//	make build && go run ./scripts/bench            # full run (several minutes)
//	go run ./scripts/bench -short                   # seconds: a correctness check
//	go run ./scripts/bench -scenarios sweep -rates 50000,100000 -duration 30s
//
// See docs/performance.md for what each column means.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

func main() {
	o := parseFlags(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rows, err := run(ctx, o)
	if len(rows) > 0 {
		fmt.Println()
		fmt.Println(rig.Machine(o.Bin))
		rig.WriteTable(os.Stdout, rows)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	Bin         string
	Work        string
	Etc         string
	Short       bool
	Scenarios   string
	Duration    time.Duration
	Warmup      time.Duration
	Idle        time.Duration
	Devices     int
	Values      int
	Rates       string
	AnchorRates string
	FixedRate   float64
	MaxBacklog  int64
	MBDevices   int
	MBTags      int
	MBPeriods   string
	Profile     string
	GWEnv       string
	Fsync       string
	PackDelayMS int
	MQTTVersion int
	Keep        bool
	Verbose     bool
}

func defaults() options {
	return options{Bin: "tbgw", Scenarios: "anchor,floor,sweep,storage,modbus,idle", Duration: 20 * time.Second,
		Warmup: 5 * time.Second, Idle: 30 * time.Second, Devices: 100, Values: 6,
		Rates: "25000,50000,100000,150000,200000", AnchorRates: "100,1000,5000,20000", FixedRate: 100000, MaxBacklog: 20000,
		MBDevices: 100, MBTags: 100, MBPeriods: "1s,100ms"}
}

func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Bin, "bin", o.Bin, "the tbgw binary under test")
	fs.StringVar(&o.Work, "work", "", "working directory (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&o.Etc, "etc", "", "the sample configuration directory (default: etc/tbgw of the repository)")
	fs.BoolVar(&o.Short, "short", false, "a few seconds per scenario: a correctness check, not a measurement")
	fs.StringVar(&o.Scenarios, "scenarios", o.Scenarios, "comma-separated: anchor, floor, sweep, storage, modbus, idle")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured window of each load step")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "load before each measured window")
	fs.DurationVar(&o.Idle, "idle", o.Idle, "measured window of the idle scenarios")
	fs.IntVar(&o.Devices, "devices", o.Devices, "devices publishing")
	fs.IntVar(&o.Values, "values", o.Values, "value keys per message (each message also carries seq and t)")
	fs.StringVar(&o.AnchorRates, "anchor-rates", o.AnchorRates, "message rates of the everyday workload (3 datapoints per message, one device connection)")
	fs.StringVar(&o.Rates, "rates", o.Rates, "datapoint rates of the ingest sweep (then flat out)")
	fs.Float64Var(&o.FixedRate, "rate", o.FixedRate, "datapoint rate of the storage comparison")
	fs.Int64Var(&o.MaxBacklog, "max-backlog", o.MaxBacklog, "flat out: messages allowed between the device broker and ThingsBoard")
	fs.IntVar(&o.MBDevices, "modbus-devices", o.MBDevices, "Modbus slaves polled")
	fs.IntVar(&o.MBTags, "modbus-tags", o.MBTags, "16-bit registers per Modbus slave")
	fs.StringVar(&o.MBPeriods, "modbus-periods", o.MBPeriods, "poll periods of the Modbus steps")
	fs.StringVar(&o.Fsync, "fsync", "", "the log's fsync policy (batch, interval, never; default batch)")
	fs.IntVar(&o.MQTTVersion, "mqtt-version", 0, "MQTT version of the connector's device session in the anchor steps (3, 4, 5; 0: 5)")
	fs.IntVar(&o.PackDelayMS, "pack-delay", 0, "the gateway's minPackSendDelayMS, its coalescing window (0: its default, 50)")
	fs.StringVar(&o.GWEnv, "gw-env", "", "comma-separated VAR=value added to the gateway's environment (e.g. GOMEMLIMIT=20MiB)")
	fs.StringVar(&o.Profile, "profile", "", "save CPU and heap profiles of each load step here (needs a gateway built with -tags pprof)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the working directory (logs, configurations)")
	fs.BoolVar(&o.Verbose, "v", false, "progress lines")
}

// parseFlags parses the command line; with -short the short defaults
// apply to every flag not given.
func parseFlags(args []string) options {
	parse := func(o *options) {
		fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
		o.flags(fs)
		_ = fs.Parse(args)
	}
	o := defaults()
	parse(&o)
	if o.Short {
		o = defaults()
		o.shorten()
		parse(&o)
	}
	return o
}

// shorten applies the short defaults.
func (o *options) shorten() {
	o.Short = true
	o.Duration, o.Warmup, o.Idle = 2*time.Second, time.Second, 2*time.Second
	o.Devices = min(o.Devices, 20)
	o.Rates = "20000"
	o.AnchorRates = "1000"
	o.FixedRate = 20000
	o.MaxBacklog = min(o.MaxBacklog, 5000)
	o.MBDevices, o.MBPeriods = 10, "1s"
}

func (o *options) has(s string) bool {
	for _, x := range strings.Split(o.Scenarios, ",") {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

// run runs the selected scenarios and returns the table rows; on an error
// it returns the rows so far.
func run(ctx context.Context, o options) ([]rig.Result, error) {
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	o.Bin = bin
	if o.Etc == "" {
		root, err := rig.RepoRoot()
		if err != nil {
			return nil, err
		}
		o.Etc = filepath.Join(root, "etc", "tbgw")
	}
	if o.Work == "" {
		dir, err := os.MkdirTemp("", "tbgw-bench-")
		if err != nil {
			return nil, err
		}
		o.Work = dir
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	b := &bench{o: o, ctx: ctx}
	if o.Verbose {
		b.log = os.Stderr
	}
	type step struct {
		name string
		f    func() error
	}
	var steps []step
	if o.has("anchor") {
		steps = append(steps, step{"anchor", b.anchor})
	}
	if o.has("floor") {
		steps = append(steps, step{"floor", b.floor})
	}
	if o.has("sweep") {
		steps = append(steps, step{"sweep", b.sweep})
	}
	if o.has("storage") {
		steps = append(steps, step{"storage", b.storage})
	}
	if o.has("modbus") {
		steps = append(steps, step{"modbus", b.modbus})
	}
	if o.has("idle") {
		steps = append(steps, step{"idle", b.idle})
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return b.rows, err
		}
		if err := s.f(); err != nil {
			return b.rows, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return b.rows, nil
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad rate %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}
