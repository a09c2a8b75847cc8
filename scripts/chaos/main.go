// Command chaos runs the tbgw binary under faults and accounts for every
// message: the ThingsBoard side stopped and restarted, the device broker
// restarted, the gateway killed with SIGKILL many times under load, the
// disk under the write-ahead log filling up, and a torn or corrupted log
// tail. Each scenario ends with a verdict: messages lost (must be 0 for
// everything the device broker handed over), duplicates (bounded by the
// in-flight windows), and the time to drain the backlog after recovery.
//
//	make build && go run ./scripts/chaos          # full run
//	go run ./scripts/chaos -short                 # seconds: a correctness check
//	go run ./scripts/chaos -scenarios tb-outage -outage 10m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

func main() {
	o := parseFlags(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	vs, err := run(ctx, o)
	if len(vs) > 0 {
		fmt.Println()
		fmt.Println(rig.Machine(o.Bin))
		writeVerdicts(os.Stdout, vs)
	}
	failed := 0
	for _, v := range vs {
		if v.Err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "chaos: %s: %v\n", v.Name, v.Err)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
	}
	if err != nil || failed > 0 {
		os.Exit(1)
	}
}

type options struct {
	Bin        string
	Work       string
	Short      bool
	Scenarios  string
	Rate       float64 // datapoints/s during the faults
	FillRate   float64 // datapoints/s while filling the disk
	Devices    int
	Outage     time.Duration
	BrokerDown time.Duration
	Restarts   int
	Kills      int
	KillMin    time.Duration
	KillMax    time.Duration
	FSSize     int64
	DiskHold   time.Duration
	Keep       bool
	Verbose    bool
}

var allScenarios = "tb-outage,broker-restart,sigkill,disk-full,torn-tail,corrupt-tail"

func defaults() options {
	return options{Bin: "tbgw", Scenarios: allScenarios, Rate: 5000, FillRate: 40000, Devices: 50,
		Outage: 2 * time.Minute, BrokerDown: 5 * time.Second, Restarts: 3, Kills: 30,
		KillMin: 300 * time.Millisecond, KillMax: 3 * time.Second, FSSize: 8 << 20, DiskHold: 10 * time.Second}
}

func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Bin, "bin", o.Bin, "the tbgw binary under test")
	fs.StringVar(&o.Work, "work", "", "working directory (default: a new temporary directory, removed afterwards)")
	fs.BoolVar(&o.Short, "short", false, "seconds per scenario: a correctness check")
	fs.StringVar(&o.Scenarios, "scenarios", o.Scenarios, "comma-separated: "+allScenarios)
	fs.Float64Var(&o.Rate, "rate", o.Rate, "datapoints/s offered during the faults")
	fs.Float64Var(&o.FillRate, "fill-rate", o.FillRate, "datapoints/s offered while the disk fills")
	fs.IntVar(&o.Devices, "devices", o.Devices, "devices publishing")
	fs.DurationVar(&o.Outage, "outage", o.Outage, "ThingsBoard outage (the target is stated for 10m)")
	fs.DurationVar(&o.BrokerDown, "broker-down", o.BrokerDown, "device broker downtime per restart")
	fs.IntVar(&o.Restarts, "restarts", o.Restarts, "device broker restarts")
	fs.IntVar(&o.Kills, "kills", o.Kills, "gateway SIGKILLs")
	fs.DurationVar(&o.KillMin, "kill-min", o.KillMin, "shortest run between two kills")
	fs.DurationVar(&o.KillMax, "kill-max", o.KillMax, "longest run between two kills")
	fs.Int64Var(&o.FSSize, "fs-size", o.FSSize, "bytes of the filesystem under the log in disk-full")
	fs.DurationVar(&o.DiskHold, "disk-hold", o.DiskHold, "how long the disk stays full")
	fs.BoolVar(&o.Keep, "keep", false, "keep the working directory (logs, log segments)")
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
	o.Outage, o.BrokerDown, o.Restarts = 3*time.Second, time.Second, 1
	o.Kills, o.KillMin, o.KillMax = 5, 200*time.Millisecond, time.Second
	o.Devices = min(o.Devices, 20)
	o.FSSize, o.DiskHold = 4<<20, 2*time.Second
}

func (o *options) has(s string) bool {
	for _, x := range strings.Split(o.Scenarios, ",") {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func run(ctx context.Context, o options) ([]*Verdict, error) {
	for _, s := range strings.Split(o.Scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" && !strings.Contains(","+allScenarios+",", ","+s+",") {
			return nil, fmt.Errorf("unknown scenario %q", s)
		}
	}
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	o.Bin = bin
	if o.Work == "" {
		dir, err := os.MkdirTemp("", "tbgw-chaos-")
		if err != nil {
			return nil, err
		}
		o.Work = dir
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	c := &chaos{o: o, ctx: ctx}
	if o.Verbose {
		c.log = os.Stderr
	}
	var out []*Verdict
	for _, s := range []struct {
		name string
		f    func(v *Verdict) error
	}{
		{"tb-outage", c.tbOutage},
		{"broker-restart", c.brokerRestart},
		{"sigkill", c.sigkill},
		{"disk-full", c.diskFull},
		{"torn-tail", c.tornTail},
		{"corrupt-tail", c.corruptTail},
	} {
		if !o.has(s.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		v := &Verdict{Name: s.name}
		v.Err = s.f(v)
		if v.Err == nil {
			v.Err = v.check()
		}
		if v.Err != nil && v.rig != nil {
			if v.Acc.Sent == 0 {
				v.Acc = v.rig.Led.Account()
			}
			v.Err = fmt.Errorf("%w\naccount: %s\n%s", v.Err, v.Acc, v.rig.Diagnose())
		}
		out = append(out, v)
		if c.log != nil {
			writeVerdicts(c.log, []*Verdict{v})
		}
	}
	return out, nil
}
