// Command bench measures the tbgw binary: throughput, loss, CPU per
// datapoint, memory and latency, MQTT ingest to ThingsBoard through the
// write-ahead log or memory storage, and idle; and, beside the everyday
// workload, the machine's floor (scripts/floor/floor.c: the same rounds'
// system calls in C). It prints one table; with several runs or binaries
// (A/B, taking turns) a summary of each figure's median and range follows.
//
//	make build && go run ./scripts/bench            # full run (several minutes)
//	go run ./scripts/bench -short                   # seconds: a correctness check
//	go run ./scripts/bench -scenarios sweep -rates 50000,100000 -duration 30s
//	go run ./scripts/bench -bin /tmp/tbgw-old,/tmp/tbgw-new -runs 5 -scenarios anchor -anchor-rates 100
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
		bins := o.bins()
		fmt.Println()
		fmt.Println(rig.Machine(bins[0]))
		if len(bins) > 1 {
			fmt.Println("binaries, taking turns in each run:", strings.Join(binLabels(bins), ", "))
		}
		rig.WriteTable(os.Stdout, rows)
		if o.Runs > 1 || len(bins) > 1 {
			runs := "1 run"
			if o.Runs > 1 {
				runs = fmt.Sprintf("%d runs", o.Runs)
			}
			fmt.Printf("\nMedian (min–max) over %s of each; lost and dups summed\n", runs)
			rig.WriteCells(os.Stdout, summarize(rows))
		}
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
	Runs        int
	Keep        bool
	Verbose     bool
}

func defaults() options {
	return options{Bin: "tbgw", Scenarios: "anchor,floor,sweep,storage,modbus,idle", Duration: 20 * time.Second,
		Warmup: 5 * time.Second, Idle: 30 * time.Second, Devices: 100, Values: 6,
		Rates: "25000,50000,100000,150000,200000", AnchorRates: "100,1000,5000,20000", FixedRate: 100000, MaxBacklog: 20000,
		MBDevices: 100, MBTags: 100, MBPeriods: "1s,100ms", Runs: 1}
}

func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Bin, "bin", o.Bin, "the tbgw binary under test; several, comma-separated, to compare them (they take turns in each run)")
	fs.IntVar(&o.Runs, "runs", o.Runs, "run the scenarios this many times; with several runs or binaries a summary gives each figure's median and range")
	fs.StringVar(&o.Work, "work", "", "working directory (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&o.Etc, "etc", "", "the sample configuration directory (default: etc/tbgw of the repository)")
	fs.BoolVar(&o.Short, "short", false, "a few seconds per scenario: a correctness check, not a measurement")
	fs.StringVar(&o.Scenarios, "scenarios", o.Scenarios, "comma-separated: anchor, floor, gofloor, sweep, storage, modbus, idle (gofloor is not in the default set)")
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

// bins are the binaries of -bin.
func (o *options) bins() []string {
	var out []string
	for _, b := range strings.Split(o.Bin, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		out = []string{o.Bin}
	}
	return out
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
	bins := o.bins()
	for i, bin := range bins {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		bins[i] = abs
	}
	labels := binLabels(bins)
	var rows []rig.Result
	for n := 1; n <= max(o.Runs, 1); n++ {
		for i, bin := range bins {
			ob := o
			ob.Bin = bin
			if len(bins) > 1 || o.Runs > 1 {
				sub := fmt.Sprintf("run%d-%d", n, i+1)
				ob.Work = filepath.Join(o.Work, sub)
				if o.Profile != "" {
					ob.Profile = filepath.Join(o.Profile, sub)
				}
			}
			b := &bench{o: ob, ctx: ctx}
			if o.Verbose {
				b.log = os.Stderr
			}
			// The floors run no gateway: once per run.
			err := b.steps(i == 0)
			for _, r := range b.rows {
				if len(bins) > 1 && !strings.HasPrefix(r.Scenario, "floor") && !strings.HasPrefix(r.Scenario, "gofloor") {
					r.Scenario = labels[i] + ": " + r.Scenario
				}
				rows = append(rows, r)
			}
			if err != nil {
				return rows, err
			}
		}
	}
	return rows, nil
}

// steps runs the selected scenarios once; floor: the floor scenario too.
func (b *bench) steps(floor bool) error {
	type step struct {
		name string
		f    func() error
	}
	var steps []step
	if b.o.has("anchor") {
		steps = append(steps, step{"anchor", b.anchor})
	}
	if b.o.has("floor") && floor {
		steps = append(steps, step{"floor", b.floor})
	}
	if b.o.has("gofloor") && floor {
		steps = append(steps, step{"gofloor", b.gofloor})
	}
	if b.o.has("sweep") {
		steps = append(steps, step{"sweep", b.sweep})
	}
	if b.o.has("storage") {
		steps = append(steps, step{"storage", b.storage})
	}
	if b.o.has("modbus") {
		steps = append(steps, step{"modbus", b.modbus})
	}
	if b.o.has("idle") {
		steps = append(steps, step{"idle", b.idle})
	}
	for _, s := range steps {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		if err := s.f(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
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
